"""Waiting in the calling thread: the generators of ``lro._core.waiting`` on the sync
driver, for one store or one service."""

from __future__ import annotations

from collections.abc import Callable, Collection

from google.longrunning.operations_proto_pb2 import Operation

from lro._core import waiting
from lro._core.clock import SYSTEM_CLOCK, Clock
from lro._core.constants import WAIT_OPERATION_POLL
from lro._core.waiting import Call, OperationsService, Steps
from lro._drive import drive
from lro._runtime import HasRuntime, Runtime
from lro._store.base import Store

__all__ = [
    "OperationsService",
    "latest_in_store",
    "operation_done",
    "wait_in_store",
    "wait_on_service",
]


def wait_in_store(
    store: Store,
    names: Collection[str],
    *,
    timeout: float,
    recheck_every: float,
    clock: Clock = SYSTEM_CLOCK,
) -> dict[str, Operation]:
    """Every operation in ``names`` once done (see ``waiting.children_done``)."""
    steps = waiting.children_done(
        store, names, timeout=timeout, recheck_every=recheck_every, now=clock.monotonic
    )
    return drive(steps, clock)


def latest_in_store(
    store: Store,
    name: str,
    *,
    timeout: float,
    recheck_every: float = float("inf"),
    keep_waiting: Callable[[], bool] = lambda: True,
    clock: Clock = SYSTEM_CLOCK,
) -> Operation:
    """The operation once done, or its latest state at the timeout (see ``waiting.latest``)."""
    steps = waiting.latest(
        store,
        name,
        timeout=timeout,
        now=clock.monotonic,
        recheck_every=recheck_every,
        keep_waiting=keep_waiting,
    )
    return drive(steps, clock)


def wait_on_service(
    service: OperationsService,
    names: Collection[str],
    *,
    timeout: float,
    poll_frequency: float,
    clock: Clock = SYSTEM_CLOCK,
) -> dict[str, Operation]:
    """Every operation in ``names`` once ``service`` says it is done (polled)."""
    steps = waiting.children_at_service(
        service, names, timeout=timeout, poll_frequency=poll_frequency, now=clock.monotonic
    )
    return drive(steps, clock)


def operation_done(name: str, service: object, timeout: float) -> tuple[Steps[Operation], Clock]:
    """``lro.wait_operation`` as steps, and the clock to run them with: on the store of
    an lro client (woken by its notifications), else by polling ``service`` with
    backoff, at most every 0.777 s as in Go."""
    if isinstance(service, HasRuntime):
        runtime = service.runtime
        return _done_in_store(runtime, name, timeout), runtime.clock
    steps = waiting.children_at_service(
        service,
        [name],
        timeout=timeout,
        poll_frequency=WAIT_OPERATION_POLL,
        now=SYSTEM_CLOCK.monotonic,
    )
    return _one(steps, name), SYSTEM_CLOCK


def _done_in_store(runtime: Runtime, name: str, timeout: float) -> Steps[Operation]:
    store = yield Call(runtime.open)
    steps = waiting.children_done(
        store,
        [name],
        timeout=timeout,
        recheck_every=WAIT_OPERATION_POLL,
        now=runtime.clock.monotonic,
    )
    return (yield from _one(steps, name))


def _one(steps: Steps[dict[str, Operation]], name: str) -> Steps[Operation]:
    return (yield from steps)[name]
