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
from google.protobuf import any_pb2, json_format
from google.protobuf.message import DecodeError, Message

# What json_format raises for an Any it cannot render: an unknown type (TypeError,
# KeyError in some protobuf versions) or bytes that do not decode.
_UNRENDERABLE = (TypeError, KeyError, DecodeError, json_format.Error)
_FIELD_ORDER = ("name", "metadata", "done", "error", "response")  # as in the proto


def any_json(packed: any_pb2.Any) -> dict[str, Any]:
    """Proto3 JSON of ``packed``; its type URL and base64 bytes if it cannot be rendered."""
    try:
        return json_format.MessageToDict(packed)
    except _UNRENDERABLE:
        return {"@type": packed.type_url, "value": base64.b64encode(packed.value).decode()}


def operation_json(operation: operations_pb2.Operation) -> dict[str, Any]:
    """Proto3 JSON of ``operation``: metadata, response and error details each by
    ``any_json``."""
    bare = operations_pb2.Operation()
    bare.CopyFrom(operation)
    rendered: dict[str, Any] = {}
    for field in ("metadata", "response"):
        if bare.HasField(field):
            rendered[field] = any_json(getattr(bare, field))
            bare.ClearField(field)
    details = [any_json(detail) for detail in bare.error.details]
    if details:
        del bare.error.details[:]
    plain = json_format.MessageToDict(bare)
    if details:
        plain["error"]["details"] = details
    present = {**plain, **rendered}
    return {key: present[key] for key in _FIELD_ORDER if key in present}


def list_json(response: operations_pb2.ListOperationsResponse) -> dict[str, Any]:
    """Proto3 JSON of a ListOperations page, each operation by ``operation_json``."""
    result: dict[str, Any] = {}
    if response.operations:
        result["operations"] = [operation_json(op) for op in response.operations]
    if response.next_page_token:
        result["nextPageToken"] = response.next_page_token
    return result


def message_json(message: Message) -> dict[str, Any]:
    """Proto3 JSON of an answer of the Operations service: an operation or a page of
    them by ``operation_json``, any other message as ``json_format`` renders it."""
    if isinstance(message, operations_pb2.Operation):
        return operation_json(message)
    if isinstance(message, operations_pb2.ListOperationsResponse):
        return list_json(message)
    return json_format.MessageToDict(message)
