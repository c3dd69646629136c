"""Durable waits on the Cloud Spanner emulator: the measurements of
``bench/durable_sqlite.py`` but the multi-process throughput (the emulator runs one
read-write transaction at a time across processes, so it says nothing of Spanner).

Resume latency of sleepers and of parents woken by child completion (against the same
baselines), and statements per poll tick of an idle worker with ``--waiting`` waits
(queries, reads and DML sent in the store's read-write transactions).

    .venv/bin/python -m bench.durable_spanner [--sleepers 200] [--parents 50] [--waiting 1000]

The emulator is the one the tests use (``$SPANNER_EMULATOR_BIN`` or shared/tools);
the benchmark starts it on a free port with a scratch database per measurement.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

from tests import spanner_emulator

from bench.durable_sqlite import parser, report_latencies, report_waiting_cost
from lro._store.base import WakeupStore
from lro._store.spanner import SpannerStore
from lro._store.spanner_config import SpannerConfig

_COUNTED = {"execute_sql", "execute_update", "read", "batch_update"}


class CountingStore(SpannerStore):
    """A Spanner store that counts the statements of its read-write transactions."""

    statements = 0

    def _run_in_transaction(
        self, work: Callable[[Any], object], within: float | None = None
    ) -> Any:
        return super()._run_in_transaction(
            lambda transaction: work(_Counting(transaction, self)), within
        )


class _Counting:
    def __init__(self, transaction: Any, store: CountingStore) -> None:
        self._transaction = transaction
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name in _COUNTED:
            self._store.statements += 1
        return getattr(self._transaction, name)


def _database() -> SpannerConfig:
    database_id = f"bench-{uuid.uuid4().hex[:12]}"
    spanner_emulator.create_database(database_id, [])
    return SpannerConfig(spanner_emulator.PROJECT, spanner_emulator.INSTANCE, database_id)


def main() -> None:
    options = parser()
    options.set_defaults(sleepers=200, parents=50, waiting=1000)
    args = options.parse_args()
    os.environ.pop("LRO_DATABASE_URL", None)
    binary = spanner_emulator.find_emulator()
    if binary is None:
        raise SystemExit("no Spanner emulator ($SPANNER_EMULATOR_BIN or shared/tools)")
    with spanner_emulator.running_emulator(binary) as host:
        os.environ["SPANNER_EMULATOR_HOST"] = host
        os.environ["SPANNER_DISABLE_BUILTIN_METRICS"] = "true"
        spanner_emulator.create_instance()
        config = _database()
        url = f"spanner:///projects/{config.project}/instances/{config.instance}"
        report_latencies(f"{url}/databases/{config.database}", args)

        def counting(label: str) -> tuple[WakeupStore, Callable[[], int]]:
            store = CountingStore(_database())
            return store, lambda: store.statements

        report_waiting_cost(counting, args.waiting)


if __name__ == "__main__":
    main()
