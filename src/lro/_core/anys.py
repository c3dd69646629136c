"""Packing messages into ``google.protobuf.Any`` and back, with type checks."""

from __future__ import annotations

from typing import TypeVar

from google.protobuf import any_pb2
from google.protobuf.message import DecodeError, Message

from lro._core.errors import InvalidArgument

M = TypeVar("M", bound=Message)


def pack(message: Message) -> any_pb2.Any:
    """``message`` packed into an Any; an Any is returned as it is."""
    if isinstance(message, any_pb2.Any):
        return message
    if not isinstance(message, Message):
        raise InvalidArgument(f"expected a protobuf message, got {type(message).__name__}")
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def type_name(packed: any_pb2.Any) -> str:
    """The full message name inside ``packed`` (empty for an empty Any)."""
    return packed.type_url.rsplit("/", 1)[-1]


def unpack_into(packed: any_pb2.Any, target: Message) -> None:
    """Unpack ``packed`` into ``target``, naming both types when they differ."""
    expected = target.DESCRIPTOR.full_name
    actual = type_name(packed)
    if actual != expected:
        raise InvalidArgument(f"cannot unpack {actual or 'nothing'} into {expected}")
    try:
        packed.Unpack(target)
    except DecodeError as exc:
        raise InvalidArgument(f"the {actual} payload does not decode: {exc}") from exc


def unpack(packed: any_pb2.Any, message_class: type[M]) -> M:
    """A new ``message_class`` unpacked from ``packed``."""
    message = message_class()
    unpack_into(packed, message)
    return message
