"""The wait logic, once: generators that say what they need and do no I/O.

Each generator yields requests (read these operations, pause, poll that service, make
this blocking call) and gets each result back by ``send``, or the exception the request
raised by ``throw``, as psycopg's ``generators.py`` does. Its return value is the
outcome of the wait. A driver performs the requests: ``lro._drive.drive`` in the
calling thread, ``lro.aio._drive.drive_async`` on an event loop without holding a
thread while it pauses. Time comes from ``now``, a monotonic clock in seconds.

A ``source`` is opaque here: a store, whose records and change notifications the
driver reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Generator
from typing import Any, Protocol, TypeVar

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.longrunning.operations_proto_pb2 import Operation

from lro._core.attempts import is_transient
from lro._core.backoff import backoff_delays, poll_delay
from lro._core.constants import FIRST_POLL_DELAY, OUTAGE_RECHECK
from lro._core.errors import Cancelled, NotFound, Unavailable, WaitDeadlineExceeded
from lro._core.statuses import status_of
from lro._core.transitions import is_cancelled

R = TypeVar("R")
Clock = Callable[[], float]


class OperationsService(Protocol):
    """Anything with ``GetOperation(request)``, such as an Operations gRPC stub."""

    def GetOperation(  # noqa: N802 (the standard service's method name)
        self, request: operations_pb2.GetOperationRequest, /
    ) -> Operation: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Watch:
    """From now on, a change to one of ``names`` in ``source`` ends a ``Pause``. -> None"""

    source: object
    names: frozenset[str]


@dataclasses.dataclass(frozen=True, slots=True)
class Read:
    """The operations among ``names`` that exist in ``source``. -> dict[str, Operation]"""

    source: object
    names: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Pause:
    """Pause up to ``seconds``, or until a watched change. -> whether a change came"""

    seconds: float


@dataclasses.dataclass(frozen=True, slots=True)
class Poll:
    """``service.GetOperation`` of each of ``names``, in order. -> dict[str, Operation]"""

    service: object
    names: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Call:
    """``function(*args)``, a blocking call (store I/O, a cloud API). -> its result"""

    function: Callable[..., Any]
    args: tuple[Any, ...] = ()


Request = Watch | Read | Pause | Poll | Call
Steps = Generator[Request, Any, R]


def cancelled_error(name: str) -> Cancelled:
    """The exception a waiting handler gets when its operation ``name`` is cancelled."""
    return Cancelled(f"operation {name!r} was cancelled")


def _read_through_outage(
    source: object, names: Collection[str]
) -> Steps[tuple[dict[str, Operation] | None, Unavailable | None]]:
    """The read, or None and the error while the store is unavailable."""
    try:
        found: dict[str, Operation] = yield Read(source, tuple(names))
    except Unavailable as exc:
        return None, exc
    return found, None


def children_done(
    source: object,
    names: Collection[str],
    *,
    timeout: float,
    recheck_every: float,
    now: Clock,
    owner: str | None = None,
) -> Steps[dict[str, Operation]]:
    """Wait until every operation in ``names`` is done; return them all.

    Woken by changes; ``recheck_every`` bounds how late a change is seen if a
    notification is lost. If ``owner`` (the waiting operation, in the same source) is
    cancelled meanwhile, raises ``lro.Cancelled``. The wait outlives an outage of the
    store: it reads again when the store is back, and raises the store's Unavailable
    only if the deadline comes first. A missing child is NotFound.
    """
    deadline = now() + timeout
    pending = set(names)
    finished: dict[str, Operation] = {}
    watched = {owner} if owner else set()
    yield Watch(source, frozenset(pending | watched))
    while True:
        found, outage = yield from _read_through_outage(source, pending | watched)
        if found is not None:
            if owner and owner in found and is_cancelled(found[owner]):
                raise cancelled_error(owner)
            missing = pending - found.keys()
            if missing:
                raise NotFound(min(missing))
            finished.update((n, found[n]) for n in pending if found[n].done)
            pending -= finished.keys()
            if not pending:
                return finished
        remaining = deadline - now()
        if remaining <= 0:
            raise outage or WaitDeadlineExceeded(pending, timeout)
        delay = min(recheck_every, remaining)
        yield Pause(min(delay, OUTAGE_RECHECK) if outage else delay)


def latest(
    source: object,
    name: str,
    *,
    timeout: float,
    now: Clock,
    recheck_every: float = float("inf"),
    keep_waiting: Callable[[], bool] = lambda: True,
) -> Steps[Operation]:
    """The operation once done, or its latest state when ``timeout`` runs out.

    Woken by changes, and every ``recheck_every`` seconds; returns early once
    ``keep_waiting()`` is false. Fails at once if the store is unavailable at the
    start; once started, it outlives an outage until its deadline, like
    ``children_done``.
    """
    deadline = now() + timeout
    yield Watch(source, frozenset((name,)))
    operation = yield from _read_one(source, name)
    outage: Unavailable | None = None
    while True:
        remaining = deadline - now()
        if operation.done or not keep_waiting() or (remaining <= 0 and outage is None):
            return operation
        if outage is not None and remaining <= 0:
            raise outage
        delay = min(remaining, recheck_every)
        changed = yield Pause(min(delay, OUTAGE_RECHECK) if outage else delay)
        if not changed and outage is None and now() >= deadline:
            return operation  # nothing changed until the deadline: answer without a read
        found, outage = yield from _read_through_outage(source, (name,))
        if found is not None:
            if name not in found:
                raise NotFound(name)
            operation = found[name]


def _read_one(source: object, name: str) -> Steps[Operation]:
    found: dict[str, Operation] = yield Read(source, (name,))
    if name not in found:
        raise NotFound(name)
    return found[name]


def check_cancelled(source: object, owner: str) -> Steps[None]:
    """Raise ``lro.Cancelled`` if ``owner`` is cancelled (a deleted one is not)."""
    found: dict[str, Operation] = yield Read(source, (owner,))
    if owner in found and is_cancelled(found[owner]):
        raise cancelled_error(owner)


def pause_unless_cancelled(
    source: object, owner: str, duration: float, *, recheck_every: float, now: Clock
) -> Steps[None]:
    """Pause ``duration`` seconds, unless ``owner`` is cancelled first (then
    ``lro.Cancelled``); checked at the start, at each change, and every
    ``recheck_every`` seconds. Expects ``owner`` to be watched already."""
    deadline = now() + duration
    every = max(recheck_every, FIRST_POLL_DELAY)
    yield from check_cancelled(source, owner)
    while (remaining := deadline - now()) > 0:
        yield Pause(min(remaining, every))
        yield from check_cancelled(source, owner)


def cancellable_sleep(
    source: object, owner: str, duration: float, *, recheck_every: float, now: Clock
) -> Steps[None]:
    """``pause_unless_cancelled``, watching ``owner`` first."""
    yield Watch(source, frozenset((owner,)))
    yield from pause_unless_cancelled(source, owner, duration, recheck_every=recheck_every, now=now)


def children_at_service(
    service: object,
    names: Collection[str],
    *,
    timeout: float,
    poll_frequency: float,
    now: Clock,
    owner: tuple[object, str] | None = None,
) -> Steps[dict[str, Operation]]:
    """Poll ``service`` until every operation in ``names`` is done; return them all.

    Polls start fast and back off, with jitter, to ``poll_frequency``. An error from
    the service ends the wait with that error. ``owner`` (source, name): the waiting
    operation, whose cancellation ends the pauses between polls with ``lro.Cancelled``.
    """
    deadline = now() + timeout
    pending = set(names)
    finished: dict[str, Operation] = {}
    delays = backoff_delays(FIRST_POLL_DELAY, max(poll_frequency, FIRST_POLL_DELAY))
    if owner is not None:
        yield Watch(owner[0], frozenset((owner[1],)))
    while True:
        found: dict[str, Operation] = yield Poll(service, tuple(sorted(pending)))
        finished.update((name, op) for name, op in found.items() if op.done)
        pending -= finished.keys()
        if not pending:
            return finished
        remaining = deadline - now()
        if remaining <= 0:
            raise WaitDeadlineExceeded(pending, timeout)
        pause = min(next(delays), remaining)
        if owner is None:
            yield Pause(pause)
        else:
            yield from pause_unless_cancelled(
                owner[0], owner[1], pause, recheck_every=poll_frequency, now=now
            )


@dataclasses.dataclass(frozen=True, slots=True)
class Postpone:
    """The wait of a wake-up goes on, for ``pending`` children: look again after
    ``delay`` seconds. ``note`` says why the children were not read, if they were not."""

    delay: float
    pending: int
    note: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class TimedOut:
    """The deadline of a wake-up's wait passed with children ``pending``."""

    pending: tuple[str, ...]


RESUME = "resume"
Decision = str | TimedOut | Postpone


def resume_decision(
    children: tuple[str, ...],
    *,
    source: object,
    service: object | None,
    deadline_us: int,
    waiting_since_us: int,
    poll_frequency_us: int,
    now_us: Callable[[], int],
) -> Steps[Decision]:
    """Whether a claimed wake-up resumes its operation now.

    ``RESUME`` if every child is done (or there are none), ``TimedOut`` if the
    deadline passed first, else ``Postpone``: look again after a pause that grows with
    the wait, from 50 ms to the poll frequency, never past the deadline. Children live
    in ``source``, or behind ``service`` (polled; a transient error of it counts the
    children as running, another error ends the decision with it).
    """
    if not children:
        return RESUME
    if service is not None:
        pending, note = yield from _running_at(service, children)
    else:
        found: dict[str, Operation] = yield Read(source, children)
        pending, note = _running(children, found), ""
    if not pending:
        return RESUME
    time_us = now_us()
    if time_us >= deadline_us:
        return TimedOut(tuple(sorted(pending)))
    delay = poll_delay(
        (time_us - waiting_since_us) / 1e6,
        FIRST_POLL_DELAY,
        max(poll_frequency_us / 1e6, FIRST_POLL_DELAY),
        (deadline_us - time_us) / 1e6,
    )
    return Postpone(delay, len(pending), note)


def _running(children: tuple[str, ...], found: dict[str, Operation]) -> set[str]:
    """The children not done (or not found) in ``found``."""
    return {name for name in children if name not in found or not found[name].done}


def _running_at(service: object, children: tuple[str, ...]) -> Steps[tuple[set[str], str]]:
    """The children that ``service`` says still run, and a note if it could not say
    (a transient error counts them all as running; another error is raised)."""
    try:
        polled: dict[str, Operation] = yield Poll(service, children)
    except Exception as exc:
        if not is_transient(status_of(exc)):
            raise
        return set(children), f"children unreachable: {exc}"
    return _running(children, polled), ""
