"""Waiting for operations: on this store's notifications, or by polling a service."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Protocol, TypeVar

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.longrunning.operations_proto_pb2 import Operation

from lro._core.backoff import backoff_delays
from lro._core.errors import NotFound, Unavailable, WaitDeadlineExceeded
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


def wait_in_store(
    store: Store, names: Collection[str], *, timeout: float, recheck_every: float
) -> dict[str, Operation]:
    """Wait until every operation in ``names`` is done; return them all.

    Woken by the store's change notifications (those of other processes too, by
    LISTEN/NOTIFY or a short poll, as the backend does it); ``recheck_every`` bounds how
    late a change is seen if a notification is lost. The wait outlives an outage of
    the store (an operation in flight keeps waiting): it reads again when the store is
    back, and raises the store's Unavailable only if the deadline comes first.
    """
    deadline = time.monotonic() + timeout
    pending = set(names)
    finished: dict[str, Operation] = {}
    with store.changes.waiter(pending) as waiter:
        while True:
            records, outage = _read_through_outage(store.get_many, pending)
            if records is not None:
                missing = pending - records.keys()
                if missing:
                    raise NotFound(min(missing))
                finished.update(
                    (name, record.operation) for name, record in records.items() if record.done
                )
                pending -= finished.keys()
                if not pending:
                    return finished
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise outage or WaitDeadlineExceeded(pending, timeout)
            delay = min(recheck_every, remaining)
            waiter.wait(min(delay, OUTAGE_RECHECK) if outage else delay)


def latest_in_store(store: Store, name: str, *, timeout: float) -> Operation:
    """The operation once done, or its latest state when ``timeout`` runs out.

    Fails at once if the store is unavailable at the start; once started, it outlives
    an outage until its deadline, like ``wait_in_store``.
    """
    deadline = time.monotonic() + timeout
    with store.changes.waiter([name]) as waiter:
        latest = store.get(name).operation
        outage: Unavailable | None = None
        while True:
            remaining = deadline - time.monotonic()
            if latest.done or (remaining <= 0 and outage is None):
                return latest
            if outage is not None and remaining <= 0:
                raise outage
            waiter.wait(min(remaining, OUTAGE_RECHECK) if outage else remaining)
            record, outage = _read_through_outage(store.get, name)
            if record is not None:
                latest = record.operation


def _read_through_outage(
    read: Callable[[A], R], argument: A
) -> tuple[R | None, Unavailable | None]:
    """``read(argument)``, or None and the error while the store is unavailable."""
    try:
        return read(argument), None
    except Unavailable as exc:
        return None, exc


def wait_on_service(
    service: OperationsService,
    names: Collection[str],
    *,
    timeout: float,
    poll_frequency: float,
) -> dict[str, Operation]:
    """Poll ``service`` until every operation in ``names`` is done; return them all.

    Polls start fast and back off, with jitter, to ``poll_frequency``. An error from
    the service ends the wait with that error.
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
        time.sleep(min(next(delays), remaining))
