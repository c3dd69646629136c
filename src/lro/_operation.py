"""``lro.Operation[T]``: the handle a service method uses to run one operation."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Generic, TypeVar

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.protobuf.message import Message
from google.rpc import status_pb2

from lro._core import transitions
from lro._core.codecs import StateCodec
from lro._core.durations import Duration, seconds
from lro._core.errors import Cancelled, FailedPrecondition, NotFound
from lro._core.names import validate_name
from lro._core.statuses import status_of
from lro._store.base import OperationRecord, update_record
from lro._wait import (
    CancellationWatch,
    OperationsService,
    raise_if_cancelled,
    wait_in_store,
    wait_on_service,
)

if TYPE_CHECKING:
    from lro._client import Client

T = TypeVar("T")
DEV_MODE_ENV = "K_SERVICE"


class Operation(Generic[T]):
    """One long-running operation, as its handler sees it.

    Made by ``Client.new_operation``. Every change is written to the store at once with
    a compare-and-set, so handlers in several threads never lose each other's updates,
    and a done operation never changes again.
    """

    def __init__(
        self,
        client: Client,
        record: OperationRecord,
        codec: StateCodec[T],
        default_state: Callable[[], T],
        callback: Callable[[Operation[T]], object] | None = None,
    ) -> None:
        self._client = client
        self._record = record
        self._codec = codec
        self._default_state = default_state
        self._state: T | None = None
        self._state_loaded = False
        self._lock = threading.Lock()
        self.callback = callback

    @property
    def name(self) -> str:
        """The operation's resource name."""
        return self._record.name

    @property
    def resume_point(self) -> str:
        """Where a resumed handler should continue; empty on the first run."""
        return self._record.resume_point

    @property
    def resume_method(self) -> str:
        """The gRPC method that resumes this operation, if any."""
        return self._record.resume_target

    @property
    def in_dev_mode(self) -> bool:
        """True when running locally (``K_SERVICE`` unset), as in the Go package."""
        return not os.environ.get(DEV_MODE_ENV)

    @property
    def cancelled(self) -> bool:
        """Whether the operation has been cancelled (read from the store now)."""
        return transitions.is_cancelled(self.get_operation())

    def get_operation(self) -> operations_pb2.Operation:
        """The operation as stored now."""
        record = self._client.store.get(self.name)
        with self._lock:
            if record.version >= self._record.version:
                self._record = record
        return record.operation

    def return_rpc(self) -> operations_pb2.Operation:
        """The operation to return from the service method that started it."""
        return self.get_operation()

    def set_metadata(self, metadata: Message) -> operations_pb2.Operation:
        """Replace the metadata (progress); OperationAlreadyDone once done."""
        return self._change(
            lambda r: r.replace(operation=transitions.set_metadata(r.operation, metadata))
        )

    def done(
        self, response: Message | None = None, *, metadata: Message | None = None
    ) -> operations_pb2.Operation:
        """Finish with ``response`` (``google.protobuf.Empty`` if None).

        Raises OperationAlreadyDone (FAILED_PRECONDITION) if it is done already.
        """
        return self._change(
            lambda r: r.replace(operation=transitions.finish(r.operation, response, metadata))
        )

    def error(
        self,
        error: BaseException | status_pb2.Status,
        *,
        metadata: Message | None = None,
    ) -> operations_pb2.Operation:
        """Finish with an error, keeping the gRPC code of ``error`` if it has one.

        ``error`` is an exception (``lro.Error``, ``grpc.RpcError``, a
        ``google.api_core`` exception, or any other, which gives UNKNOWN) or a
        ``google.rpc.Status``. Raises OperationAlreadyDone if it is done already,
        except for an ``lro.Cancelled`` on an operation that was cancelled: then the
        operation is returned as it is.
        """
        if isinstance(error, Cancelled):
            current = self.get_operation()
            if transitions.is_cancelled(current):
                return current
        status = status_of(error)
        return self._change(
            lambda r: r.replace(operation=transitions.fail(r.operation, status, metadata))
        )

    def delete(self) -> None:
        """Delete the operation from the store."""
        self._client.store.delete(self.name)

    @property
    def state(self) -> T:
        """The handler's private state: as saved, else a fresh ``state_type()``."""
        with self._lock:
            if not self._state_loaded:
                stored = self._record.state
                self._state = (
                    self._codec.decode(stored) if stored is not None else self._default_state()
                )
                self._state_loaded = True
            return self._state  # type: ignore[return-value]

    @state.setter
    def state(self, value: T) -> None:
        self.set_state(value)

    def set_state(self, value: T) -> None:
        """Save the handler's private state in the store (checked against its type)."""
        encoded = self._codec.encode(value)
        self._change(lambda r: r.replace(state=encoded))
        with self._lock:
            self._state = value
            self._state_loaded = True

    def wait(
        self,
        *,
        sleep: Duration = 0,
        children: Iterable[str] = (),
        timeout: Duration = 420,
        poll_frequency: Duration = 3,
        service: OperationsService | Client | None = None,
    ) -> dict[str, operations_pb2.Operation]:
        """Sleep, then block until every child operation is done.

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

        Returns:
            The finished children by name. A child that failed counts as done; read its
            ``error``.

        Raises:
            WaitDeadlineExceeded: past ``timeout``, naming the children still running.
            Cancelled: this operation was cancelled meanwhile; the children still
                running are then cancelled too (best effort).
            Unavailable: past ``timeout`` while the store was unreachable (a wait rides
                out shorter outages).
        """
        every = seconds(poll_frequency, "poll_frequency")
        with CancellationWatch(self._client.store, self.name, every) as watch:
            watch.pause(seconds(sleep, "sleep"))
        names = [validate_name(name) for name in children]
        if not names:
            return {}
        limit = seconds(timeout, "timeout")
        try:
            return self._wait_for_children(names, limit, every, service)
        except Cancelled:
            _cancel_children(names, service or self._client)
            raise

    def _wait_for_children(
        self,
        names: list[str],
        limit: float,
        every: float,
        service: OperationsService | Client | None,
    ) -> dict[str, operations_pb2.Operation]:
        from lro._client import Client

        store = self._client.store
        if service is None or service is self._client:
            return wait_in_store(store, names, timeout=limit, recheck_every=every, owner=self.name)
        if isinstance(service, Client):
            # Another store: its notifications wake the wait; a cancellation of this
            # operation is seen when the wait ends.
            found = wait_in_store(service.store, names, timeout=limit, recheck_every=every)
            raise_if_cancelled(store, self.name)
            return found
        with CancellationWatch(store, self.name, every) as watch:
            return wait_on_service(
                service, names, timeout=limit, poll_frequency=every, pause=watch.pause
            )

    def _change(
        self, change: Callable[[OperationRecord], OperationRecord]
    ) -> operations_pb2.Operation:
        with self._lock:
            current = self._record
        record = update_record(self._client.store, current, change)
        with self._lock:
            if record.version > self._record.version:
                self._record = record
        return record.operation

    def __repr__(self) -> str:
        return f"Operation({self.name!r})"


def _cancel_children(names: Iterable[str], service: object) -> None:
    """Cancel the children still running, where ``service`` can (best effort)."""
    cancel = getattr(service, "cancel_operation", None)
    if cancel is None:
        cancel = getattr(service, "CancelOperation", None)
        if cancel is None:
            return
        for name in names:
            with contextlib.suppress(Exception):
                cancel(operations_pb2.CancelOperationRequest(name=name))
        return
    for name in names:
        with contextlib.suppress(NotFound):
            cancel(name)


def no_default_state(state_type: type) -> Callable[[], object]:
    """A default-state factory for ``state_type``, or one that explains why there is none."""

    def make() -> object:
        try:
            return state_type()
        except TypeError as exc:
            raise FailedPrecondition(
                f"no state saved yet, and {state_type.__qualname__}() needs arguments; "
                "set op.state first"
            ) from exc

    return make
