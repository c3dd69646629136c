"""Waiting for operations: on this store's notifications, or by polling a service."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from types import TracebackType
from typing import Protocol, TypeVar

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.longrunning.operations_proto_pb2 import Operation

from lro._core.backoff import backoff_delays
from lro._core.errors import Cancelled, NotFound, Unavailable, WaitDeadlineExceeded
from lro._core.transitions import is_cancelled
from lro._store.base import Store

FIRST_POLL_DELAY = 0.05
OUTAGE_RECHECK = 0.5
A = TypeVar("A")
R = TypeVar("R")


class OperationsService(Protocol):
    """Anything with ``GetOperation(request)``, such as an Operations gRPC stub."""

    def GetOperation(  # noqa: N802 (the standard service's method name)
        self, request: operations_pb2.GetOperationRequest, /
    ) -> Operation: ...


def cancelled_error(name: str) -> Cancelled:
    """The exception a waiting handler gets when its operation ``name`` is cancelled."""
    return Cancelled(f"operation {name!r} was cancelled")


def wait_in_store(
    store: Store,
    names: Collection[str],
    *,
    timeout: float,
    recheck_every: float,
    owner: str | None = None,
) -> dict[str, Operation]:
    """Wait until every operation in ``names`` is done; return them all.

    Woken by the store's change notifications (those of other processes too, by
    LISTEN/NOTIFY or a short poll, as the backend does it); ``recheck_every`` bounds how
    late a change is seen if a notification is lost. If ``owner`` (the waiting
    operation) is cancelled meanwhile, raises ``lro.Cancelled``. The wait outlives an
    outage of the store: it reads again when the store is back, and raises the store's
    Unavailable only if the deadline comes first.
    """
    deadline = time.monotonic() + timeout
    pending = set(names)
    finished: dict[str, Operation] = {}
    watched = {owner} if owner else set()
    with store.changes.waiter(pending | watched) as waiter:
        while True:
            records, outage = read_through_outage(store.get_many, pending | watched)
            if records is not None:
                if owner and owner in records and is_cancelled(records[owner].operation):
                    raise cancelled_error(owner)
                missing = pending - records.keys()
                if missing:
                    raise NotFound(min(missing))
                finished.update(
                    (name, record.operation)
                    for name, record in records.items()
                    if record.done and name in pending
                )
                pending -= finished.keys()
                if not pending:
                    return finished
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise outage or WaitDeadlineExceeded(pending, timeout)
            delay = min(recheck_every, remaining)
            waiter.wait(min(delay, OUTAGE_RECHECK) if outage else delay)


def latest_in_store(
    store: Store,
    name: str,
    *,
    timeout: float,
    recheck_every: float = float("inf"),
    keep_waiting: Callable[[], bool] = lambda: True,
) -> Operation:
    """The operation once done, or its latest state when ``timeout`` runs out.

    Woken by notifications, and every ``recheck_every`` seconds; returns early once
    ``keep_waiting()`` is false. Fails at once if the store is unavailable at the
    start; once started, it outlives an outage until its deadline, like
    ``wait_in_store``.
    """
    deadline = time.monotonic() + timeout
    with store.changes.waiter([name]) as waiter:
        latest = store.get(name).operation
        outage: Unavailable | None = None
        while (
            pause := next_pause(
                latest, outage, deadline - time.monotonic(), recheck_every, keep_waiting()
            )
        ) is not None:
            if not waiter.wait(pause) and outage is None and time.monotonic() >= deadline:
                break  # nothing changed until the deadline: answer now, without a read
            record, outage = read_through_outage(store.get, name)
            if record is not None:
                latest = record.operation
        return latest


def next_pause(
    latest: Operation,
    outage: Unavailable | None,
    remaining: float,
    recheck_every: float,
    keep_waiting: bool = True,
) -> float | None:
    """How long a wait for ``latest`` pauses before it reads again; None when it is over.

    During an outage the store is read again sooner, and past the deadline the wait
    raises the outage rather than return a state it could not refresh.
    """
    if latest.done or not keep_waiting:
        return None
    if remaining <= 0:
        if outage is not None:
            raise outage
        return None
    delay = min(remaining, recheck_every)
    return min(delay, OUTAGE_RECHECK) if outage else delay


def read_through_outage(read: Callable[[A], R], argument: A) -> tuple[R | None, Unavailable | None]:
    """``read(argument)``, or None and the error while the store is unavailable."""
    try:
        return read(argument), None
    except Unavailable as exc:
        return None, exc


def raise_if_cancelled(store: Store, name: str) -> None:
    """Raise ``lro.Cancelled`` if operation ``name`` is cancelled (a deleted one is not)."""
    try:
        operation = store.get(name).operation
    except NotFound:
        return
    if is_cancelled(operation):
        raise cancelled_error(name)


class CancellationWatch:
    """Pauses of a waiting handler that end with ``lro.Cancelled`` once its own
    operation is cancelled; woken at once by a change made in this process."""

    def __init__(self, store: Store, name: str, recheck_every: float) -> None:
        self._store = store
        self._name = name
        self._recheck_every = max(recheck_every, FIRST_POLL_DELAY)
        self._waiter = store.changes.waiter([name])

    def check(self) -> None:
        """Raise ``lro.Cancelled`` if the operation is cancelled."""
        raise_if_cancelled(self._store, self._name)

    def pause(self, duration: float) -> None:
        """Sleep ``duration`` seconds, unless the operation is cancelled first."""
        deadline = time.monotonic() + duration
        self.check()
        while (remaining := deadline - time.monotonic()) > 0:
            self._waiter.wait(min(remaining, self._recheck_every))
            self.check()

    def __enter__(self) -> CancellationWatch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._waiter.close()


def wait_on_service(
    service: OperationsService,
    names: Collection[str],
    *,
    timeout: float,
    poll_frequency: float,
    pause: Callable[[float], None] = time.sleep,
) -> dict[str, Operation]:
    """Poll ``service`` until every operation in ``names`` is done; return them all.

    Polls start fast and back off, with jitter, to ``poll_frequency``; ``pause`` sleeps
    between them. An error from the service ends the wait with that error.
    """
    deadline = time.monotonic() + timeout
    pending = set(names)
    finished: dict[str, Operation] = {}
    delays = backoff_delays(FIRST_POLL_DELAY, max(poll_frequency, FIRST_POLL_DELAY))
    while True:
        for name in sorted(pending):
            operation = service.GetOperation(operations_pb2.GetOperationRequest(name=name))
            if operation.done:
                finished[name] = operation
        pending -= finished.keys()
        if not pending:
            return finished
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitDeadlineExceeded(pending, timeout)
        pause(min(next(delays), remaining))
