"""Waiting for operations: on this store's notifications, or by polling a service."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Protocol

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.longrunning.operations_proto_pb2 import Operation

from lro._core.backoff import backoff_delays
from lro._core.errors import NotFound, WaitDeadlineExceeded
from lro._store.base import Store

FIRST_POLL_DELAY = 0.05


class OperationsService(Protocol):
    """Anything with ``GetOperation(request)``, such as an Operations gRPC stub."""

    def GetOperation(  # noqa: N802 (the standard service's method name)
        self, request: operations_pb2.GetOperationRequest, /
    ) -> Operation: ...


def wait_in_store(
    store: Store, names: Collection[str], *, timeout: float, recheck_every: float
) -> dict[str, Operation]:
    """Wait until every operation in ``names`` is done; return them all.

    Woken by the store's change notifications; ``recheck_every`` only bounds how late a
    change made by another process (which sends no notification) is seen.
    """
    deadline = time.monotonic() + timeout
    pending = set(names)
    finished: dict[str, Operation] = {}
    with store.changes.waiter(pending) as waiter:
        while True:
            records = store.get_many(pending)
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
                raise WaitDeadlineExceeded(pending, timeout)
            waiter.wait(min(recheck_every, remaining))


def latest_in_store(store: Store, name: str, *, timeout: float) -> Operation:
    """The operation once done, or its latest state when ``timeout`` runs out."""
    deadline = time.monotonic() + timeout
    with store.changes.waiter([name]) as waiter:
        while True:
            operation = store.get(name).operation
            remaining = deadline - time.monotonic()
            if operation.done or remaining <= 0:
                return operation
            waiter.wait(remaining)


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
