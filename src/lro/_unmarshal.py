"""Reading a finished operation's response and metadata into messages."""

from __future__ import annotations

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.protobuf.message import Message

from lro._core.anys import unpack_into
from lro._core.errors import Error, FailedPrecondition, InvalidArgument


def unmarshal_operation(
    operation: operations_pb2.Operation,
    response: Message | None = None,
    metadata: Message | None = None,
) -> None:
    """Unpack a done operation's response and metadata into the given messages.

    Raises:
        FailedPrecondition: the operation is not done yet.
        Error: the operation failed; the subclass matches its error code.
        InvalidArgument: a message is of another type than the one stored.
    """
    if not operation.done:
        raise FailedPrecondition(f"operation {operation.name!r} is not done")
    if operation.HasField("error"):
        raise Error.from_code(operation.error.code, operation.error.message)
    if response is not None:
        unpack_into(operation.response, response)
    if metadata is not None and operation.HasField("metadata"):
        unpack_into(operation.metadata, metadata)


def unmarshal_metadata(operation: operations_pb2.Operation, metadata: Message) -> None:
    """Unpack the metadata of ``operation``, running or done, into ``metadata``.

    Raises:
        FailedPrecondition: the operation has no metadata (yet).
        InvalidArgument: ``metadata`` is of another type than the one stored.
    """
    if not isinstance(metadata, Message):
        raise InvalidArgument(f"expected a protobuf message, got {type(metadata).__name__}")
    if not operation.HasField("metadata"):
        raise FailedPrecondition(f"operation {operation.name!r} has no metadata")
    unpack_into(operation.metadata, metadata)
