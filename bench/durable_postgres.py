"""Durable waits on PostgreSQL: the measurements of ``bench/durable_sqlite.py``.

Resume latency of sleepers and of parents woken by child completion (against the same
baselines), SQL statements per poll tick of an idle worker with 10,000 waiting, and
resumptions per second with 1 and 3 ``lro worker`` processes. Statements are counted
by wrapping the store's connections.

    .venv/bin/python -m bench.durable_postgres [--sleepers 1000] [--throughput 1000]

The server is ``$LRO_BENCH_POSTGRES_DSN`` (default: the local one, user postgres);
the benchmark makes its own database there and drops it.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from bench._postgres import schema_url, scratch_database
from bench.durable_sqlite import (
    parser,
    report_latencies,
    report_throughput,
    report_waiting_cost,
)
from lro._store.base import WakeupStore
from lro._store.postgres import PostgresStore


class _CountingConnection:
    """A connection that counts the statements sent through it."""

    def __init__(self, connection: Any, store: CountingStore) -> None:
        self._connection = connection
        self._store = store

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self._store.statements += 1
        return self._connection.execute(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


class CountingStore(PostgresStore):
    """A PostgreSQL store that counts the SQL statements it sends."""

    statements = 0

    @contextlib.contextmanager
    def _connection(self, action: str) -> Iterator[Any]:
        with super()._connection(action) as connection:
            yield _CountingConnection(connection, self)


def main() -> None:
    args = parser().parse_args()
    os.environ.pop("LRO_DATABASE_URL", None)
    with scratch_database() as database_url:
        report_latencies(schema_url(database_url, "latency"), args)

        def counting(label: str) -> tuple[WakeupStore, Callable[[], int]]:
            store = CountingStore(database_url, schema=f"{label}_{uuid.uuid4().hex[:8]}")
            return store, lambda: store.statements

        report_waiting_cost(counting, args.waiting)
        report_throughput(
            lambda workers, run: schema_url(database_url, f"throughput{workers}"),
            args.throughput,
            args.lead,
        )


if __name__ == "__main__":
    main()
