"""The legal changes of an operation, as pure functions on Operation protos.

Each returns a new message and never changes its argument.
"""

from __future__ import annotations

import google.rpc.code_pb2 as code_pb2
import google.rpc.status_pb2 as status_pb2
from google.longrunning.operations_proto_pb2 import Operation
from google.protobuf import empty_pb2
from google.protobuf.message import Message

from lro._core.anys import pack
from lro._core.errors import InvalidArgument, OperationAlreadyDone, OperationCancelled


def new_operation(name: str, metadata: Message | None = None) -> Operation:
    """A running operation called ``name``."""
    operation = Operation(name=name)
    if metadata is not None:
        operation.metadata.CopyFrom(pack(metadata))
    return operation


def _copy_if_running(operation: Operation) -> Operation:
    if operation.done:
        raise OperationAlreadyDone(operation.name)
    changed = Operation()
    changed.CopyFrom(operation)
    return changed


def set_metadata(operation: Operation, metadata: Message) -> Operation:
    """``operation`` with new metadata; a done operation cannot change."""
    changed = _copy_if_running(operation)
    changed.metadata.CopyFrom(pack(metadata))
    return changed


def finish(
    operation: Operation,
    response: Message | None = None,
    metadata: Message | None = None,
) -> Operation:
    """``operation`` done with ``response`` (``google.protobuf.Empty`` when None)."""
    changed = _copy_if_running(operation)
    if metadata is not None:
        changed.metadata.CopyFrom(pack(metadata))
    changed.response.CopyFrom(pack(response if response is not None else empty_pb2.Empty()))
    changed.done = True
    return changed


def fail(
    operation: Operation, status: status_pb2.Status, metadata: Message | None = None
) -> Operation:
    """``operation`` done with the error ``status``, whose code must not be OK."""
    if status.code == code_pb2.OK:
        raise InvalidArgument("an operation cannot fail with code OK; use done()")
    changed = _copy_if_running(operation)
    if metadata is not None:
        changed.metadata.CopyFrom(pack(metadata))
    changed.error.CopyFrom(status)
    changed.done = True
    return changed


def cancel(operation: Operation) -> Operation:
    """``operation`` done with CANCELLED, or unchanged if it is done already."""
    if operation.done:
        return operation
    return fail(
        operation,
        status_pb2.Status(code=code_pb2.CANCELLED, message="operation cancelled"),
    )


def is_cancelled(operation: Operation) -> bool:
    """Whether ``operation`` ended by cancellation (done with code CANCELLED)."""
    return operation.done and operation.error.code == code_pb2.CANCELLED


def ensure_running(operation: Operation) -> None:
    """Refuse a change of a done operation: OperationCancelled (an ``lro.Cancelled``)
    if a caller cancelled it, else OperationAlreadyDone."""
    if is_cancelled(operation):
        raise OperationCancelled(operation.name)
    if operation.done:
        raise OperationAlreadyDone(operation.name)
