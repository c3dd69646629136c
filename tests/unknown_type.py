"""A message type compiled by the tests, in a descriptor pool of its own: no server, no
``lro`` command and no renderer in any process has it in the default pool."""

from __future__ import annotations

import base64
import functools

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

TYPE_NAME = "lro_test_unknown.Secret"
TYPE_URL = f"type.googleapis.com/{TYPE_NAME}"


@functools.cache
def _secret_class() -> type[Message]:
    pool = descriptor_pool.DescriptorPool()
    proto = descriptor_pb2.FileDescriptorProto(
        name="lro_test_unknown.proto", package="lro_test_unknown", syntax="proto3"
    )
    message = proto.message_type.add(name="Secret")
    message.field.add(
        name="word",
        number=1,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
    )
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(TYPE_NAME))


def secret(word: str) -> Message:
    """A ``lro_test_unknown.Secret`` holding ``word``."""
    return _secret_class()(word=word)


def opaque(message: Message) -> dict[str, str]:
    """How proto3 JSON by lro renders ``message`` packed in an Any: type URL and bytes."""
    return {"@type": TYPE_URL, "value": base64.b64encode(message.SerializeToString()).decode()}
