"""``lro.Operation[T]``: the handle a service method uses to run one operation."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.protobuf.message import Message
from google.rpc import status_pb2

from lro._core import transitions
from lro._core.constants import POLL_FREQUENCY, WAIT_TIMEOUT
from lro._core.durations import Duration
from lro._core.waiting import OperationsService
from lro._drive import drive
from lro._operation_base import OperationBase, finishing, label_of, setting_metadata
from lro._runtime import HasRuntime, Resumable, Runtime
from lro._store.base import OperationRecord

T = TypeVar("T")


class Operation(OperationBase[T]):
    """One long-running operation, as its handler sees it.

    Made by ``Client.new_operation``. Every change is written to the store at once with
    a compare-and-set, so handlers in several threads never lose each other's updates,
    and a done operation never changes again.
    """

    @property
    def cancelled(self) -> bool:
        """Whether the operation has been cancelled (read from the store now)."""
        return self.is_cancelled()

    def is_cancelled(self) -> bool:
        """Whether the operation has been cancelled (read from the store now)."""
        return transitions.is_cancelled(self.get_operation())

    def get_operation(self) -> operations_pb2.Operation:
        """The operation as stored now."""
        return self._read().operation

    def return_rpc(self) -> operations_pb2.Operation:
        """The operation to return from the service method that started it."""
        return self.get_operation()

    def set_metadata(self, metadata: Message) -> operations_pb2.Operation:
        """Replace the metadata (progress).

        Raises ``lro.Cancelled`` once a caller cancelled the operation, and
        OperationAlreadyDone once it is done otherwise (as every write does).
        """
        return self._update(setting_metadata(metadata)).operation

    def done(
        self, response: Message | None = None, *, metadata: Message | None = None
    ) -> operations_pb2.Operation:
        """Finish with ``response`` (``google.protobuf.Empty`` if None).

        Raises OperationAlreadyDone (FAILED_PRECONDITION) if it is done already.
        """
        return self._update(finishing(response, metadata)).operation

    def error(
        self,
        error: BaseException | status_pb2.Status,
        *,
        metadata: Message | None = None,
    ) -> operations_pb2.Operation:
        """Finish with an error, keeping the gRPC code of ``error`` if it has one.

        ``error`` is an exception (``lro.Error``, ``grpc.RpcError``, a
        ``google.api_core`` exception, or any other, which gives UNKNOWN) or a
        ``google.rpc.Status``. On an operation that a caller cancelled it does
        nothing and returns the operation, so that ``except Exception as exc:
        op.error(exc)`` is safe; on one done otherwise it raises OperationAlreadyDone.
        """
        return self._error_now(error, metadata).operation

    def delete(self) -> None:
        """Delete the operation from the store."""
        self._store.delete(self.name)

    @property
    def state(self) -> T:
        """The handler's private state: as saved, else a fresh ``state_type()``."""
        return self.get_state()

    @state.setter
    def state(self, value: T) -> None:
        self.set_state(value)

    def get_state(self) -> T:
        """The handler's private state: as saved, else a fresh ``state_type()``."""
        return self._loaded_state()

    def set_state(self, value: T) -> None:
        """Save the handler's private state in the store (checked against its type)."""
        self._save_state(value)

    def wait(
        self,
        *,
        sleep: Duration = 0,
        children: Iterable[str] = (),
        timeout: Duration = WAIT_TIMEOUT,
        poll_frequency: Duration = POLL_FREQUENCY,
        service: OperationsService | HasRuntime | None = None,
        resume_at: str | None = None,
        child_endpoint: str | None = None,
    ) -> dict[str, operations_pb2.Operation]:
        """Sleep, then block until every child operation is done.

        With ``resume_at`` the wait is durable instead: see docs/reference/durable-waits.md.

        Args:
            sleep: seconds to sleep first.
            children: names of operations to wait for.
            timeout: seconds to wait for the children, after the sleep.
            poll_frequency: for children in this store, how often to read them again
                in case a notification was lost (changes wake the wait at once: those
                of this process directly, those of others by the backend's
                notifications); for children behind ``service``, the longest gap
                between polls.
            service: where the children live: None for this client's store, another
                ``lro.Client``, or anything with ``GetOperation(request)``.
            resume_at: make the wait durable: save the state, this resume point and a
                wake-up in one transaction and return ``{}`` at once; the handler
                should then return. A worker resumes the operation when the wait is
                over (or timed out: ``op.wait_timed_out``), with
                ``op.resume_point == resume_at``.
            child_endpoint: where the ``google.longrunning.Operations`` service that
                has the children is: ``host:port``, ``https://host``, or the Go
                package's GetOperation URL
                (``https://host/google.longrunning.Operations/GetOperation``); for a
                wait that must outlive this process (``service`` cannot).

        Returns:
            The finished children by name (``{}`` for a durable wait). A child that
            failed counts as done; read its ``error``.

        Raises:
            WaitDeadlineExceeded: past ``timeout``, naming the children still running.
            Cancelled: this operation was cancelled meanwhile; the children still
                running are then cancelled too (best effort).
            Unavailable: past ``timeout`` while the store was unreachable (a wait rides
                out shorter outages).
        """
        steps = self._wait_steps(
            sleep=sleep,
            children=children,
            timeout=timeout,
            poll_frequency=poll_frequency,
            service=service,
            resume_at=resume_at,
            child_endpoint=child_endpoint,
        )
        return drive(steps, self._runtime.clock)

    def _callback_resumable(self) -> Resumable:
        assert self.callback is not None
        run = run_with(self._runtime, self.callback, self._state_type)
        return Resumable(run, self._state_type, label_of(self.callback))


def run_with(
    runtime: Runtime,
    function: Callable[[Any], object],
    state_type: type[Any] | None,
    handler_name: str = "",
) -> Callable[[OperationRecord], OperationRecord]:
    """How a worker runs ``function`` (a handler, or a callback when ``handler_name`` is
    empty) on a stored operation: with a fresh ``lro.Operation`` handle."""

    def run(record: OperationRecord) -> OperationRecord:
        callback = None if handler_name else function
        op = Operation(runtime, record, state_type, handler_name=handler_name, callback=callback)
        function(op)
        return op._current()

    return run
