"""What ``lro.Operation`` and ``lro.aio.Operation`` share: the handle's record and
state, the changes they make, and the wait as steps for a driver.

Nothing here blocks: a change is a pure function for ``update_record``, and the wait
is a generator of requests (``lro._core.waiting``) that the sync face runs with
``lro._drive.drive`` and the asyncio face with ``lro.aio._drive.drive_async``.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.protobuf.message import Message
from google.rpc import status_pb2

from lro._core import transitions, waiting
from lro._core.codecs import StateCodec, codec_for
from lro._core.constants import DEV_MODE_ENV
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
from lro._core.waiting import Call, Steps
from lro._resume.binding import wait_with_task
from lro._resume.channels import (
    Channels,
    operations_endpoint,
    operations_stub,
    validate_endpoint,
)
from lro._resume.plan import schedule_resumption, wait_plan, wakeup_store
from lro._runtime import CloudResumer, HandOver, HasRuntime, Resumable, ResumeTarget, Runtime
from lro._store.base import OperationRecord, Store, update_record

T = TypeVar("T")
Change = Callable[[OperationRecord], OperationRecord]
logger = logging.getLogger("lro.operation")
resume_logger = logging.getLogger("lro.resume")


class OperationBase(abc.ABC, Generic[T]):
    """The state of one operation's handle, whichever face uses it.

    Args:
        runtime: the client's runtime.
        record: the operation as last read or written.
        state_type: the type of the private state (None: any JSON value).
        handler_name: the registered handler that runs it, if any.
        callback: the development callback that resumes it, if any.
    """

    def __init__(
        self,
        runtime: Runtime,
        record: OperationRecord,
        state_type: type[T] | None = None,
        *,
        handler_name: str = "",
        callback: Callable[[Any], object] | None = None,
    ) -> None:
        self._runtime = runtime
        self._record = record
        self._state_type = state_type
        self._codec: StateCodec[T] = codec_for(state_type)
        self._state: T | None = None
        self._state_loaded = False
        self._lock = threading.Lock()
        self._handler_name = handler_name
        self.callback = callback
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
    def _store(self) -> Store:
        return self._runtime.store

    def _current(self) -> OperationRecord:
        with self._lock:
            return self._record

    def _adopt(
        self, record: OperationRecord, durable_wait_point: str | None = None
    ) -> OperationRecord:
        """Keep ``record`` if it is newer than the one held; returns it. After a durable
        wait, remember its point (see ``_refuse_after_durable_wait``)."""
        with self._lock:
            if record.version >= self._record.version:
                self._record = record
            if durable_wait_point is not None:
                self._durable_wait_point = durable_wait_point
        return record

    def _update(self, change: Change) -> OperationRecord:
        """Apply ``change`` with compare-and-set while the operation runs (blocking;
        see ``transitions.ensure_running``)."""
        self._refuse_after_durable_wait()

        def change_running(record: OperationRecord) -> OperationRecord:
            transitions.ensure_running(record.operation)
            return change(record)

        return self._adopt(update_record(self._store, self._current(), change_running))

    def _refuse_after_durable_wait(self) -> None:
        """After ``wait(resume_at=...)`` this run must end: a write now would land at
        the wrong point of the handler."""
        point = self._durable_wait_point
        if point is not None:
            raise FailedPrecondition(
                f"operation {self.name!r} scheduled a durable wait (resume_at={point!r}); "
                "return from the handler now: it runs again at that resume point"
            )

    def _read(self) -> OperationRecord:
        """The record as stored now (blocking)."""
        return self._adopt(self._store.get(self.name))

    def _error_now(
        self, error: BaseException | status_pb2.Status, metadata: Message | None
    ) -> OperationRecord:
        """Finish with ``error`` (blocking); see ``Operation.error``."""
        status = status_of(error)
        try:
            return self._update(failing(status, metadata))
        except OperationCancelled:
            return self._read()

    def _loaded_state(self) -> T:
        """The state as saved, else a fresh ``state_type()``; decoded once."""
        with self._lock:
            if not self._state_loaded:
                stored = self._record.state
                self._state = (
                    self._codec.decode(stored) if stored is not None else self._default_state()
                )
                self._state_loaded = True
            return self._state  # type: ignore[return-value]

    def _default_state(self) -> T | None:
        if self._state_type is None:
            return None
        return no_default_state(self._state_type)()  # type: ignore[return-value]

    def _save_state(self, value: T) -> None:
        """Save the state (blocking), checked against its type."""
        encoded = self._codec.encode(value)
        self._update(lambda r: r.replace(state=encoded))
        with self._lock:
            self._state = value
            self._state_loaded = True

    def _encoded_state(self) -> bytes | None:
        """The state to save with a durable wait: None if it was never read or set."""
        with self._lock:
            if not self._state_loaded:
                return None
            return self._codec.encode(self._state)  # type: ignore[arg-type]

    def _wait_steps(
        self,
        *,
        sleep: Duration,
        children: Iterable[str],
        timeout: Duration,
        poll_frequency: Duration,
        service: object,
        resume_at: str | None,
        child_endpoint: str | None,
    ) -> Steps[dict[str, operations_pb2.Operation]]:
        """``Operation.wait``, as steps."""
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
            if service is not None and not self._is_own(service):
                raise InvalidArgument(
                    "a durable wait (resume_at) cannot keep a service object; "
                    "give child_endpoint, the address of its Operations service"
                )
            wait = Wait(sleep_seconds, names, limit, every, child_endpoint)
            yield from self._durable_steps(resume_at, wait)
            return {}
        with contextlib.closing(Channels()) as channels:
            if child_endpoint is not None:
                service = operations_stub(channels.get(child_endpoint))
            wait = Wait(sleep_seconds, names, limit, every, child_endpoint)
            try:
                return (yield from self._waiting_steps(wait, service))
            except Cancelled:  # also when it came before the wait: no child runs orphaned
                yield from self._cancel_children_steps(names, service)
                raise

    def _waiting_steps(
        self, wait: Wait, service: object
    ) -> Steps[dict[str, operations_pb2.Operation]]:
        """The sleep, then the wait for the children, in this process."""
        if wait.sleep > 0 or not self._in_own_store(wait.children, service, wait.child_endpoint):
            # (A wait on children of this store checks the cancellation in its first read.)
            yield from waiting.cancellable_sleep(
                self._store,
                self.name,
                wait.sleep,
                recheck_every=wait.poll_frequency,
                now=self._runtime.clock.monotonic,
            )
        if not wait.children:
            return {}
        return (
            yield from self._children_steps(
                wait.children, wait.timeout, wait.poll_frequency, service
            )
        )

    def _is_own(self, service: object) -> bool:
        return isinstance(service, HasRuntime) and service.runtime is self._runtime

    def _in_own_store(self, names: list[str], service: object, child_endpoint: str | None) -> bool:
        """Whether a wait has children, all in this operation's store."""
        own = child_endpoint is None and (service is None or self._is_own(service))
        return bool(names) and own

    def _children_steps(
        self, names: list[str], limit: float, every: float, service: object
    ) -> Steps[dict[str, operations_pb2.Operation]]:
        store, now = self._store, self._runtime.clock.monotonic
        if service is None or self._is_own(service):
            return (
                yield from waiting.children_done(
                    store, names, timeout=limit, recheck_every=every, now=now, owner=self.name
                )
            )
        if isinstance(service, HasRuntime):
            # Another store: its notifications wake the wait; a cancellation of this
            # operation is seen when the wait ends.
            found = yield from waiting.children_done(
                service.runtime.store, names, timeout=limit, recheck_every=every, now=now
            )
            yield from waiting.check_cancelled(store, self.name)
            return found
        return (
            yield from waiting.children_at_service(
                service,
                names,
                timeout=limit,
                poll_frequency=every,
                now=now,
                owner=(store, self.name),
            )
        )

    def _cancel_children_steps(self, names: list[str], service: object) -> Steps[None]:
        """Cancel the children still running, where ``service`` can (best effort).

        A child that cannot be cancelled is logged and left; a child that an lro store
        no longer has is left quietly.
        """
        if service is None or isinstance(service, HasRuntime):
            store = self._store if service is None else service.runtime.store
            calls = [Call(cancel_in_store, (store, name)) for name in names]
        else:
            cancel = getattr(service, "CancelOperation", None)
            if cancel is None:
                return
            requests = [operations_pb2.CancelOperationRequest(name=name) for name in names]
            calls = [Call(cancel, (request,)) for request in requests]
        for name, call in zip(names, calls, strict=True):
            try:
                yield call
            except NotFound:
                continue
            except Exception as exc:
                logger.warning("could not cancel child %s of a cancelled wait: %s", name, exc)

    def _durable_steps(self, point: str, wait: Wait) -> Steps[None]:
        """Save the state, the resume point and the wait; a worker or a cloud resumer
        resumes the operation when the wait is over."""
        if not isinstance(point, str) or not point:
            raise InvalidArgument("resume_at must be a non-empty string")
        target = self._resume_target()
        cloud = self._runtime.cloud_resumer
        if cloud is not None and cloud.accepts(target.kind, wait.children):
            yield from self._hand_over_steps(cloud, point, wait, target)
            return
        store = wakeup_store(self._store)
        if wait.children and wait.child_endpoint is None:
            found = yield Call(store.get_many, (wait.children,))
            missing = set(wait.children) - found.keys()
            if missing:
                raise NotFound(min(missing))
        plan = wait_plan(
            target,
            sleep=wait.sleep,
            children=wait.children,
            timeout=wait.timeout,
            poll_frequency=wait.poll_frequency,
            child_endpoint=wait.child_endpoint or "",
        )
        state = self._encoded_state()
        record, wakeup = yield Call(
            schedule_resumption, (store, self._current(), point, state, plan)
        )
        self._adopt(record, durable_wait_point=point)
        yield Call(self._runtime.scheduled, (wakeup,))

    def _hand_over_steps(
        self, cloud: CloudResumer, point: str, wait: Wait, target: ResumeTarget
    ) -> Steps[None]:
        """Give the wait to ``cloud``, with the state and resume point saved."""
        if target.kind == "handler":  # resumed by the resume endpoint, through a bound task
            current = self._current()
            saved = (point, self._encoded_state())
            record = yield Call(
                wait_with_task,
                (self._store, cloud, current, saved, wait.hand_over(current, target)),
            )
            self._adopt(record, durable_wait_point=point)
            return
        stored = yield Call(self._update, (self._saving_for_hand_over(point),))
        yield Call(cloud.resume_later, (wait.hand_over(stored, target),))
        self._adopt(stored, durable_wait_point=point)

    def _saving_for_hand_over(self, point: str) -> Change:
        state = self._encoded_state()

        def save(record: OperationRecord) -> OperationRecord:
            return record.replace(
                resume_point=point,
                state=state if state is not None else record.state,
                attempts=0,
                wait_timed_out=False,
            )

        return save

    def _resume_target(self) -> ResumeTarget:
        """Whom a durable wait resumes.

        In production (``K_SERVICE`` set) a callback gives way to the gRPC method, as
        in the Go package (Cloud Workflows takes it, or a worker calls the resume
        host); without a method the callback is kept, and the client warns once that
        such wake-ups are pinned to this process.
        """
        if self._handler_name:
            return ResumeTarget("handler", self._handler_name)
        runtime = self._runtime
        method = self._method_target()
        if self.callback is not None:
            if not self.in_dev_mode:
                if method:
                    return method
                _warn_pinned_callback(runtime, self.name)
            runtime.registry.add_callback(self.name, self._callback_resumable())
            return ResumeTarget("callback", self.name, pinned_to=runtime.instance_id)
        if method:
            return method
        raise FailedPrecondition(
            f"operation {self.name!r} has nothing to resume it: start it with "
            "client.start(handler), or give callback=, or resume_method= and the "
            "client's resume_host"
        )

    def _method_target(self) -> ResumeTarget | None:
        """The gRPC method that resumes this operation at the resume host, if both are set."""
        host = self._runtime.resume_host
        if self.resume_method and host:
            return ResumeTarget("grpc", self.resume_method, validate_endpoint(host))
        return None

    @abc.abstractmethod
    def _callback_resumable(self) -> Resumable:
        """The development callback, as the registry keeps it; each face runs it its way."""

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({self.name!r})"


@dataclasses.dataclass(frozen=True, slots=True)
class Wait:
    """The arguments of a durable wait, checked."""

    sleep: float
    children: list[str]
    timeout: float
    poll_frequency: float
    child_endpoint: str | None

    def hand_over(self, record: OperationRecord, target: ResumeTarget) -> HandOver:
        """This wait as a cloud resumer takes it."""
        return HandOver(
            record,
            target.kind,
            target.name,
            sleep=self.sleep,
            children=self.children,
            timeout=self.timeout,
            poll_frequency=self.poll_frequency,
            child_endpoint=self.child_endpoint or "",
        )


_PINNED_WARNED: weakref.WeakSet[Runtime] = weakref.WeakSet()
_PINNED_WARNED_LOCK = threading.Lock()


def _warn_pinned_callback(runtime: Runtime, name: str) -> None:
    """Warn, once per client, that a production wake-up is kept by this process only."""
    with _PINNED_WARNED_LOCK:
        if runtime in _PINNED_WARNED:
            return
        _PINNED_WARNED.add(runtime)
    resume_logger.warning(
        "operation %s waits durably with callback= in production (K_SERVICE is set) and "
        "has no resume method: the wake-up is pinned to this process, and is lost if the "
        "process is scaled down or restarted before it is due. Register a handler "
        "(@client.resumable, client.start), or give resume_method= and a resume host, "
        "as in the Go package. (Said once per client.)",
        name,
    )


def label_of(function: object) -> str:
    """The qualified name of a function, for the spans of its runs."""
    return str(getattr(function, "__qualname__", "") or repr(function))


def setting_metadata(metadata: Message) -> Change:
    """The change that replaces the metadata."""
    return lambda r: r.replace(operation=transitions.set_metadata(r.operation, metadata))


def finishing(response: Message | None, metadata: Message | None) -> Change:
    """The change that finishes with ``response``."""
    return lambda r: r.replace(operation=transitions.finish(r.operation, response, metadata))


def failing(status: status_pb2.Status, metadata: Message | None = None) -> Change:
    """The change that finishes with the error ``status``."""
    return lambda r: r.replace(operation=transitions.fail(r.operation, status, metadata))


def cancel_in_store(store: Store, name: str) -> operations_pb2.Operation:
    """Cancel ``name`` in ``store``: a running operation ends with CANCELLED (blocking)."""
    record = store.get(validate_name(name))
    return update_record(
        store, record, lambda r: r.replace(operation=transitions.cancel(r.operation))
    ).operation


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
