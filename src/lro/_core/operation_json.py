"""Operations as proto3 JSON, whatever types their Any fields hold.

The one way lro renders an operation as JSON (the HTTP API, the ``lro`` command, the
dashboard). A ``google.protobuf.Any`` whose type this process does not know (any
message of the caller's own protos, which a generic server never imports), or whose
bytes do not decode as its type, keeps its bytes: ``{"@type": url, "value": base64}``.
Nothing is lost and nothing fails.
"""

from __future__ import annotations

import base64
from typing import Any

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.protobuf import (  # the well-known types: always known here (see below)
    any_pb2,
    descriptor_pool,
    duration_pb2,
    empty_pb2,
    field_mask_pb2,
    json_format,
    message_factory,
    struct_pb2,
    timestamp_pb2,
    wrappers_pb2,
)
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from lro._core.anys import type_name

# What json_format raises for an Any it cannot render: an unknown type (TypeError,
# KeyError in some protobuf versions) or bytes that do not decode.
_UNRENDERABLE = (TypeError, KeyError, DecodeError, json_format.Error)
_ANY = any_pb2.Any.DESCRIPTOR.full_name
# The well-known types have a JSON form of their own under "value"; unknown, their bytes
# would go under that same key and read as that form (a StringValue "x" as "CgF4"). A
# generic server imports none of its callers' modules, so this one loads them all.
WELL_KNOWN_TYPES = (
    duration_pb2.Duration,
    empty_pb2.Empty,
    field_mask_pb2.FieldMask,
    struct_pb2.Struct,
    timestamp_pb2.Timestamp,
    wrappers_pb2.StringValue,
)


def any_json(packed: any_pb2.Any) -> dict[str, Any]:
    """Proto3 JSON of ``packed``; its type URL and base64 bytes if it cannot be rendered.

    A known type that holds an unrenderable Any deeper down is rendered around it.
    """
    try:
        return json_format.MessageToDict(packed)
    except _UNRENDERABLE:
        pass
    inner = _unpacked(packed)
    if inner is None:
        return {"@type": packed.type_url, "value": base64.b64encode(packed.value).decode()}
    rendered = message_json(inner)
    if isinstance(inner, any_pb2.Any):  # a well-known type: its JSON goes under "value"
        return {"@type": packed.type_url, "value": rendered}
    return {"@type": packed.type_url, **rendered}


def _unpacked(packed: any_pb2.Any) -> Message | None:
    """The message in ``packed`` if this process knows its type and its bytes decode."""
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(type_name(packed))
        message = message_factory.GetMessageClass(descriptor)()
        message.ParseFromString(packed.value)
    except (KeyError, DecodeError):
        return None
    return message


def operation_json(operation: operations_pb2.Operation) -> dict[str, Any]:
    """Proto3 JSON of ``operation``: every Any in it (metadata, response, error details)
    by ``any_json``."""
    rendered = message_json(operation)
    assert isinstance(rendered, dict)
    return rendered


def message_json(message: Message) -> Any:
    """Proto3 JSON of ``message``, every Any in it by ``any_json``; an operation or a
    page of them too. A message that holds no Any of an unknown type renders exactly as
    ``json_format.MessageToDict`` renders it."""
    try:
        return json_format.MessageToDict(message)
    except _UNRENDERABLE:
        if message.DESCRIPTOR.full_name == _ANY:
            assert isinstance(message, any_pb2.Any)
            return any_json(message)
    bare = type(message)()
    bare.CopyFrom(message)
    around: dict[str, Any] = {}
    for field, value in message.ListFields():
        if _holds_messages(field):
            bare.ClearField(field.name)
            around[field.name] = _field_json(field, value)
    plain = json_format.MessageToDict(bare)
    rendered: dict[str, Any] = {}
    for field, _ in message.ListFields():  # in field number order, as MessageToDict
        if field.name in around:
            rendered[field.json_name] = around[field.name]
        elif field.json_name in plain:
            rendered[field.json_name] = plain[field.json_name]
    return rendered


def _map_value(field: FieldDescriptor) -> FieldDescriptor | None:
    """The value field of a map field's entries; None if ``field`` is not a map."""
    entry = field.message_type
    if entry is None or not entry.GetOptions().map_entry:
        return None
    return entry.fields_by_name["value"]


def _holds_messages(field: FieldDescriptor) -> bool:
    """Whether ``field`` holds messages: one, a list, or a map's values."""
    value_field = _map_value(field)
    if value_field is not None:
        return value_field.message_type is not None
    return field.message_type is not None


def _field_json(field: FieldDescriptor, value: Any) -> Any:
    """Proto3 JSON of a field of messages: one, a list, or a map of them."""
    if _map_value(field) is not None:
        return {_key_json(key): message_json(item) for key, item in value.items()}
    if field.is_repeated:
        return [message_json(item) for item in value]
    return message_json(value)


def _key_json(key: object) -> str:
    """A map key as proto3 JSON writes it."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def list_json(response: operations_pb2.ListOperationsResponse) -> dict[str, Any]:
    """Proto3 JSON of a ListOperations page, each operation by ``operation_json``."""
    result: dict[str, Any] = {}
    if response.operations:
        result["operations"] = [operation_json(op) for op in response.operations]
    if response.next_page_token:
        result["nextPageToken"] = response.next_page_token
    return result
