"""Purge throughput, and what a purge costs a writer running at the same time.

Loads ``--count`` done operations last updated long ago into a scratch store of
``--backend`` (a temporary SQLite file, or a scratch PostgreSQL database on
``$LRO_BENCH_POSTGRES_DSN``), bulk-loaded (SQLite: multi-row transactions; PostgreSQL:
COPY). Then, in one run:

1. the writer alone for ``--baseline`` seconds: one thread doing lifecycles
   (``new_operation`` then ``done``) as fast as it can, on the same store and table;
2. ``client.purge(older_than=30 days)`` while the same writer runs.

It prints the purge rate (operations deleted per second) and the writer's lifecycles
per second during the purge as a ratio against the writer alone. The writer's
operations are new, so the purge keeps them (checked).

    .venv/bin/python -m bench.purge --backend sqlite|postgresql [--count 1000000]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import itertools
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator

import lro
from lro._client_base import purge_query
from lro._core import transitions
from lro._store import retention
from lro._store.base import PURGE_BATCH, OperationRecord, Store
from lro._store.mappings import column_values
from lro._store.queries import load_queries

BATCH = 20_000
THIRTY_DAYS = datetime.timedelta(days=30)
OLD_TIME_US = 1_600_000_000_000_000  # September 2020
HEADER = (
    "| backend | batch | rest ratio | deleted | purge s | purge ops/s | writer alone /s "
    "| writer during /s | ratio | load |"
)


def _old_done_records(count: int) -> Iterator[OperationRecord]:
    for index in range(count):
        operation = transitions.finish(
            transitions.new_operation(f"operations/{uuid.UUID(int=index + 1)}")
        )
        time_us = OLD_TIME_US + index
        yield OperationRecord(
            operation, state=b"{}", create_time_us=time_us, update_time_us=time_us
        )


def load(store: Store, count: int) -> float:
    """Seconds to bulk-load ``count`` old done operations."""
    started = time.perf_counter()
    records = _old_done_records(count)
    with store.connector.connection() as connection:  # type: ignore[attr-defined]
        if isinstance(store, lro.SqliteStore):
            insert = load_queries("sqlite")["insert_operation"]
            connection.execute("PRAGMA synchronous = OFF")
            while batch := [column_values(r) for r in itertools.islice(records, BATCH)]:
                connection.execute("BEGIN")
                connection.executemany(insert, batch)
                connection.execute("COMMIT")
            connection.execute(f"PRAGMA synchronous = {store.synchronous}")
            connection.execute("ANALYZE")
        else:
            columns = list(column_values(next(_old_done_records(1))))
            copy = f"COPY lro_operations ({', '.join(columns)}) FROM STDIN"
            with connection.cursor() as cursor, cursor.copy(copy) as rows:
                for record in records:
                    rows.write_row(list(column_values(record).values()))
            connection.commit()
            connection.execute("ANALYZE lro_operations")
            connection.commit()
    return time.perf_counter() - started


class Writer:
    """A thread doing lifecycles (create, then done) until stopped; counts them."""

    def __init__(self, client: lro.Client) -> None:
        self.client = client
        self.done = 0
        self.names: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            operation = self.client.new_operation()
            operation.done()
            self.names.append(operation.name)
            self.done += 1

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def writer_alone(client: lro.Client, seconds: float) -> float:
    """Lifecycles per second of the writer alone for ``seconds``."""
    started = time.perf_counter()
    with Writer(client) as writer:
        time.sleep(seconds)
        count, elapsed = writer.done, time.perf_counter() - started
    return count / elapsed


def purge_with_writer(client: lro.Client, batch: int) -> tuple[int, float, float, list[str]]:
    """(deleted, seconds, the writer's lifecycles per second, its names) of one purge
    (what ``client.purge(older_than=30 days)`` does, in batches of ``batch``)."""
    with Writer(client) as writer:
        time.sleep(0.5)  # the writer runs before the purge starts
        before, started = writer.done, time.perf_counter()
        query = purge_query(client.runtime.clock.now_us(), THIRTY_DAYS, "", "operations")
        deleted = retention.purge(client.store, dataclasses.replace(query, limit=batch))
        elapsed = time.perf_counter() - started
        written = writer.done - before
    return deleted, elapsed, written / elapsed, writer.names


@contextlib.contextmanager
def _store_url(backend: str) -> Iterator[str]:
    if backend == "postgresql":
        from bench._postgres import schema_url, scratch_database

        with scratch_database() as database:
            yield schema_url(database, "bench_purge")
    else:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/purge.db"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds")
    parser.add_argument("--batch", type=int, default=PURGE_BATCH, help="operations a batch")
    parser.add_argument(
        "--rest-ratio", type=float, default=retention.REST_RATIO, help="rest after a batch"
    )
    args = parser.parse_args()
    retention.REST_RATIO = args.rest_ratio
    with _store_url(args.backend) as url, lro.Client(url, worker=False) as client:
        print(f"loaded {args.count:,} done operations in {load(client.store, args.count):.1f} s")
        alone = writer_alone(client, args.baseline)
        deleted, seconds, during, names = purge_with_writer(client, args.batch)
        assert deleted == args.count, deleted
        assert len(client.store.get_many(names[-1000:])) == min(1000, len(names))
        load_average = os.getloadavg()[0]
        print(HEADER)
        print("|---|---|---|---|---|---|---|---|---|---|")
        print(
            f"| {args.backend} | {args.batch} | {args.rest_ratio} | {deleted:,} | "
            f"{seconds:.1f} | {deleted / seconds:,.0f} | {alone:,.0f} | {during:,.0f} | "
            f"{during / alone:.2f} | {load_average:.1f} |"
        )


if __name__ == "__main__":
    main()
