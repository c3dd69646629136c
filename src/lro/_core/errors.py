"""Errors of lro, each bound to a ``google.rpc.Code``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import google.rpc.code_pb2 as code_pb2
import google.rpc.status_pb2 as status_pb2


class Error(Exception):
    """Base class of every error lro raises; ``code`` is its ``google.rpc.Code``."""

    code: ClassVar[int] = code_pb2.UNKNOWN
    _by_code: ClassVar[dict[int, type[Error]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # The first class declared for a code is the one a bare code maps back to.
        if "code" in cls.__dict__:
            Error._by_code.setdefault(cls.code, cls)

    def __init__(self, message: str = "") -> None:
        super().__init__(message or (self.__doc__ or "").strip().splitlines()[0])

    @property
    def message(self) -> str:
        """The human readable message."""
        return str(self.args[0])

    def to_status(self) -> status_pb2.Status:
        """This error as a ``google.rpc.Status``."""
        return status_pb2.Status(code=self.code, message=self.message)

    @staticmethod
    def from_code(code: int, message: str) -> Error:
        """The error class registered for ``code``, instantiated with ``message``."""
        error_class = Error._by_code.get(code, Error)
        error = error_class.__new__(error_class)
        Error.__init__(error, message)
        if error_class is Error:
            error.code = code  # type: ignore[misc]
        return error


class Cancelled(Error):
    """The operation was cancelled."""

    code = code_pb2.CANCELLED


class InvalidArgument(Error):
    """The request is not valid."""

    code = code_pb2.INVALID_ARGUMENT


class DeadlineExceeded(Error):
    """The deadline passed before the work finished."""

    code = code_pb2.DEADLINE_EXCEEDED


class NotFound(Error):
    """The operation does not exist."""

    code = code_pb2.NOT_FOUND

    def __init__(self, operation: str) -> None:
        super().__init__(f"operation {operation!r} not found")
        self.operation = operation


class AlreadyExists(Error):
    """An operation with this name exists already."""

    code = code_pb2.ALREADY_EXISTS


class FailedPrecondition(Error):
    """The operation is not in a state that allows this call."""

    code = code_pb2.FAILED_PRECONDITION


class Aborted(Error):
    """A concurrent change got in the way; try again."""

    code = code_pb2.ABORTED


class Unauthenticated(Error):
    """The caller did not prove who it is."""

    code = code_pb2.UNAUTHENTICATED


class PermissionDenied(Error):
    """The caller is known but not allowed."""

    code = code_pb2.PERMISSION_DENIED


class Unavailable(Error):
    """The store cannot be reached."""

    code = code_pb2.UNAVAILABLE


class DataLoss(Error):
    """Stored data is damaged: an operation's row does not decode."""

    code = code_pb2.DATA_LOSS
    operation = ""

    def __init__(self, operation: str) -> None:
        super().__init__(f"operation {operation!r} is damaged in the store and cannot be read")
        self.operation = operation


class InvalidOperationName(InvalidArgument):
    """The operation name is malformed."""

    def __init__(self, name: str, reason: str = "") -> None:
        expected = "expected 'operations/{id}' or '{parent}/operations/{id}'"
        super().__init__(f"invalid operation name {name!r}: {reason or expected}")
        self.name = name


class InvalidPageToken(InvalidArgument):
    """The page token is malformed, forged or from another query."""


class InvalidState(InvalidArgument):
    """A state value does not fit the operation's ``state_type``."""


class OperationAlreadyDone(FailedPrecondition):
    """The operation is done; a done operation cannot change."""

    def __init__(self, operation: str) -> None:
        super().__init__(f"operation {operation!r} is already done")
        self.operation = operation


class OperationCancelled(Cancelled, OperationAlreadyDone):
    """A write to an operation that a caller cancelled.

    An ``lro.Cancelled`` (code CANCELLED) that is also an ``OperationAlreadyDone``:
    a cancelled operation is done.
    """

    def __init__(self, operation: str) -> None:
        Error.__init__(self, f"operation {operation!r} was cancelled")
        self.operation = operation


class WaitDeadlineExceeded(DeadlineExceeded):
    """A wait ran out of time with operations still running."""

    def __init__(self, pending: Iterable[str], timeout: float) -> None:
        self.pending = tuple(sorted(pending))
        names = ", ".join(self.pending)
        super().__init__(f"wait timed out after {timeout:g}s; still running: {names}")
