"""Waiting in the calling thread: the generators of ``lro._core.waiting`` on the sync
driver, for one store or one service."""

from __future__ import annotations

from collections.abc import Callable, Collection

from google.longrunning.operations_proto_pb2 import Operation

from lro._core import waiting
from lro._core.waiting import OperationsService
from lro._drive import drive
from lro._runtime import SYSTEM_CLOCK, Clock
from lro._store.base import Store

__all__ = ["OperationsService", "latest_in_store", "wait_in_store", "wait_on_service"]


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
