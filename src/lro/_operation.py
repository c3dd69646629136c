"""``lro.Operation[T]``: the handle a service method uses to run one operation."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Generic, TypeVar

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.protobuf.message import Message
from google.rpc import status_pb2

from lro._core import transitions
from lro._core.codecs import StateCodec
from lro._core.durations import Duration, seconds
from lro._core.errors import (
    Cancelled,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    OperationCancelled,
)
from lro._core.names import validate_name
from lro._core.statuses import status_of
from lro._resume.binding import wait_with_task
from lro._resume.channels import (
    Channels,
    operations_endpoint,
    operations_stub,
    validate_endpoint,
)
from lro._resume.cloud import CloudResumer, HandOver
from lro._resume.plan import schedule_resumption, wait_plan, wakeup_store
from lro._resume.registry import Resumable
from lro._store.base import OperationRecord, TargetKind, update_record
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
logger = logging.getLogger("lro.operation")
resume_logger = logging.getLogger("lro.resume")


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
        self._handler_name = ""
        self._state_type: type[T] | None = None
        self._durable_wait_point: str | None = None  # set once this run scheduled one

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
    def wait_timed_out(self) -> bool:
        """True in a handler resumed because its durable wait ran out of time.

        The children it waited for were not all done by the timeout; read them to see
        which. False on a first run, and after a wait that ended normally.
        """
        return self._record.wait_timed_out

    @property
    def attempts(self) -> int:
        """Failed handler runs at the current resume point (see ``last_error``)."""
        return self._record.attempts

    @property
    def last_error(self) -> str:
        """The last failure of a handler run, as ``CODE: message``; empty if none."""
        return self._record.last_error

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
        """Replace the metadata (progress).

        Raises ``lro.Cancelled`` once a caller cancelled the operation, and
        OperationAlreadyDone once it is done otherwise (as every write does).
        """
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
        ``google.rpc.Status``. On an operation that a caller cancelled it does
        nothing and returns the operation, so that ``except Exception as exc:
        op.error(exc)`` is safe; on one done otherwise it raises OperationAlreadyDone.
        """
        status = status_of(error)
        try:
            return self._change(
                lambda r: r.replace(operation=transitions.fail(r.operation, status, metadata))
            )
        except OperationCancelled:
            return self.get_operation()

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
        resume_at: str | None = None,
        child_endpoint: str | None = None,
    ) -> dict[str, operations_pb2.Operation]:
        """Sleep, then block until every child operation is done.

        With ``resume_at`` the wait is durable instead: see ``README``, "Durable waits".

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
            Cancelled: this operation was cancelled, before the wait or during it;
                the children still running are then cancelled too (best effort).
            Unavailable: past ``timeout`` while the store was unreachable (a wait rides
                out shorter outages).
        """
        self._refuse_after_durable_wait()
        every = seconds(poll_frequency, "poll_frequency")
        sleep_seconds = seconds(sleep, "sleep")
        names = [validate_name(name) for name in children]
        limit = seconds(timeout, "timeout")
        if child_endpoint is not None and service is not None:
            raise InvalidArgument("give service or child_endpoint, not both")
        if child_endpoint is not None:
            child_endpoint = operations_endpoint(child_endpoint)
        if resume_at is not None:
            if service is not None and service is not self._client:
                raise InvalidArgument(
                    "a durable wait (resume_at) cannot keep a service object; "
                    "give child_endpoint, the address of its Operations service"
                )
            self._wait_durably(
                resume_at,
                sleep=sleep_seconds,
                children=names,
                timeout=limit,
                poll_frequency=every,
                child_endpoint=child_endpoint,
            )
            return {}
        with contextlib.closing(Channels()) as channels:
            if child_endpoint is not None:
                service = operations_stub(channels.get(child_endpoint))
            try:
                with CancellationWatch(self._client.store, self.name, every) as watch:
                    watch.pause(sleep_seconds)
                if not names:
                    return {}
                return self._wait_for_children(names, limit, every, service)
            except Cancelled:  # also when it came before the wait: no child runs orphaned
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

    def _wait_durably(
        self,
        point: str,
        *,
        sleep: float,
        children: list[str],
        timeout: float,
        poll_frequency: float,
        child_endpoint: str | None,
    ) -> None:
        if not isinstance(point, str) or not point:
            raise InvalidArgument("resume_at must be a non-empty string")
        target = self._resume_target()
        cloud = self._client.cloud_resumer
        if cloud is not None and cloud.accepts(target[0], children):
            self._hand_over(
                cloud,
                point,
                target,
                sleep=sleep,
                children=children,
                timeout=timeout,
                poll_frequency=poll_frequency,
                child_endpoint=child_endpoint,
            )
            return
        store = wakeup_store(self._client.store)
        if children and child_endpoint is None:
            missing = set(children) - store.get_many(children).keys()
            if missing:
                raise NotFound(min(missing))
        plan = wait_plan(
            target,
            sleep=sleep,
            children=children,
            timeout=timeout,
            poll_frequency=poll_frequency,
            child_endpoint=child_endpoint or "",
        )
        with self._lock:
            current = self._record
            state = self._codec.encode(self._state) if self._state_loaded else None  # type: ignore[arg-type]
        record, wakeup = schedule_resumption(store, current, point, state, plan)
        self._keep_newer(record, durable_wait_point=point)
        self._client._scheduled(wakeup)

    def _hand_over(
        self,
        cloud: CloudResumer,
        point: str,
        target: tuple[TargetKind, str, str, str],
        *,
        sleep: float,
        children: list[str],
        timeout: float,
        poll_frequency: float,
        child_endpoint: str | None,
    ) -> None:
        """Save the state and resume point, then give the wait to ``cloud``."""
        with self._lock:
            current = self._record
            state = self._codec.encode(self._state) if self._state_loaded else None  # type: ignore[arg-type]
        hand_over = HandOver(
            current,
            target[0],
            target[1],
            sleep=sleep,
            children=children,
            timeout=timeout,
            poll_frequency=poll_frequency,
            child_endpoint=child_endpoint or "",
        )
        if target[0] == "handler":  # resumed by the resume endpoint, through a bound task
            store = self._client.store
            record = wait_with_task(store, cloud, current, (point, state), hand_over)
            self._keep_newer(record, durable_wait_point=point)
            return

        def save(record: OperationRecord) -> OperationRecord:
            return record.replace(
                resume_point=point,
                state=state if state is not None else record.state,
                attempts=0,
                wait_timed_out=False,
            )

        saved = self._update(save)
        cloud.resume_later(dataclasses.replace(hand_over, record=saved))
        with self._lock:
            self._durable_wait_point = point

    def _resume_target(self) -> tuple[TargetKind, str, str, str]:
        """Whom a durable wait resumes: (kind, name, endpoint, pinned_to).

        In production (``K_SERVICE`` set) a callback gives way to the gRPC method, as
        in the Go package (Cloud Workflows takes it, or a worker calls the resume
        host); without a method the callback is kept, and the client warns once that
        such wake-ups are pinned to this process.
        """
        if self._handler_name:
            return "handler", self._handler_name, "", ""
        method = self._method_target()
        if self.callback is not None:
            if not self.in_dev_mode:
                if method:
                    return method
                _warn_pinned_callback(self._client, self.name)
            self._client._callbacks[self.name] = Resumable(self.callback, self._state_type)
            return "callback", self.name, "", self._client.instance_id
        if method:
            return method
        raise FailedPrecondition(
            f"operation {self.name!r} has nothing to resume it: start it with "
            "client.start(handler), or give callback=, or resume_method= and the "
            "client's resume_host"
        )

    def _method_target(self) -> tuple[TargetKind, str, str, str] | None:
        """The gRPC method that resumes this operation at the resume host, if both are set."""
        if self.resume_method and self._client.resume_host:
            return "grpc", self.resume_method, validate_endpoint(self._client.resume_host), ""
        return None

    def _change(
        self, change: Callable[[OperationRecord], OperationRecord]
    ) -> operations_pb2.Operation:
        return self._update(change).operation

    def _update(self, change: Callable[[OperationRecord], OperationRecord]) -> OperationRecord:
        """Write ``change`` while the operation runs (see ``transitions.ensure_running``)."""
        self._refuse_after_durable_wait()
        with self._lock:
            current = self._record

        def change_running(record: OperationRecord) -> OperationRecord:
            transitions.ensure_running(record.operation)
            return change(record)

        record = update_record(self._client.store, current, change_running)
        self._keep_newer(record)
        return record

    def _keep_newer(self, record: OperationRecord, durable_wait_point: str | None = None) -> None:
        """Hold ``record`` if it is newer than the record held; after a durable wait,
        remember its point (see ``_refuse_after_durable_wait``)."""
        with self._lock:
            if record.version > self._record.version:
                self._record = record
            if durable_wait_point is not None:
                self._durable_wait_point = durable_wait_point

    def _refuse_after_durable_wait(self) -> None:
        """After ``wait(resume_at=...)`` this run must end: a write now would land at
        the wrong point of the handler."""
        point = self._durable_wait_point
        if point is not None:
            raise FailedPrecondition(
                f"operation {self.name!r} scheduled a durable wait (resume_at={point!r}); "
                "return from the handler now: it runs again at that resume point"
            )

    def __repr__(self) -> str:
        return f"Operation({self.name!r})"


_PINNED_WARNED: weakref.WeakSet[Client] = weakref.WeakSet()
_PINNED_WARNED_LOCK = threading.Lock()


def _warn_pinned_callback(client: Client, name: str) -> None:
    """Warn, once per client, that a production wake-up is kept by this process only."""
    with _PINNED_WARNED_LOCK:
        if client in _PINNED_WARNED:
            return
        _PINNED_WARNED.add(client)
    resume_logger.warning(
        "operation %s waits durably with callback= in production (K_SERVICE is set) and "
        "has no resume method: the wake-up is pinned to this process, and is lost if the "
        "process is scaled down or restarted before it is due. Register a handler "
        "(@client.resumable, client.start), or give resume_method= and a resume host, "
        "as in the Go package. (Said once per client.)",
        name,
    )


def _cancel_children(names: Iterable[str], service: object) -> None:
    """Cancel the children still running, where ``service`` can (best effort).

    A child that cannot be cancelled is logged and left; a child this client's store
    no longer has is left quietly.
    """
    cancel = getattr(service, "cancel_operation", None)
    if cancel is None:
        cancel = getattr(service, "CancelOperation", None)
        if cancel is None:
            return
        for name in names:
            try:
                cancel(operations_pb2.CancelOperationRequest(name=name))
            except Exception as exc:
                logger.warning("could not cancel child %s of a cancelled wait: %s", name, exc)
        return
    for name in names:
        try:
            cancel(name)
        except NotFound:
            continue
        except Exception as exc:
            logger.warning("could not cancel child %s of a cancelled wait: %s", name, exc)


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
