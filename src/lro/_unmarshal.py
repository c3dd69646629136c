"""Reading a finished operation's response and metadata into messages."""

from __future__ import annotations

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.protobuf.message import Message

from lro._core.anys import unpack_into
from lro._core.errors import Error, FailedPrecondition


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
