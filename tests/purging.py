"""Helpers of the purge tests: a clock ahead of the system's, and stored operations."""

from __future__ import annotations

import google.rpc.code_pb2 as code_pb2
import google.rpc.status_pb2 as status_pb2

import lro
from lro._core import transitions
from lro._core.clock import SystemClock
from lro._core.listing import ListQuery
from lro._store.base import OperationRecord, Store

HOUR_US = 3_600_000_000


class ShiftedClock(SystemClock):
    """The system clock, its wall time moved by ``shift_us`` (or frozen at ``frozen_us``)."""

    def __init__(self, shift_us: int = 0, frozen_us: int | None = None) -> None:
        self.shift_us = shift_us
        self.frozen_us = frozen_us

    def now_us(self) -> int:
        """The shifted (or frozen) wall time."""
        return self.frozen_us if self.frozen_us is not None else super().now_us() + self.shift_us


def set_clock(client: lro.Client, clock: SystemClock) -> None:
    """Make ``client`` read the time from ``clock``."""
    client.runtime.clock = clock


def running(store: Store, name: str) -> OperationRecord:
    """A new running operation ``name``."""
    return store.create(OperationRecord(operation=transitions.new_operation(name)))


def done(store: Store, name: str, code: int = code_pb2.OK) -> OperationRecord:
    """A new operation ``name``, finished (with error ``code`` unless OK)."""
    record = running(store, name)
    operation = (
        transitions.finish(record.operation)
        if code == code_pb2.OK
        else transitions.fail(record.operation, status_pb2.Status(code=code, message="failed"))
    )
    return store.update(record.replace(operation=operation), expected_version=record.version)


def names(store: Store, collection: str = "operations") -> set[str]:
    """The names of the operations of ``collection``."""
    return {r.name for r in store.list_page(ListQuery(collection, None, None, 1000))}
