"""ListOperations latency: page 1 against page 1000, over a store with many operations.

Loads ``--count`` operations (a quarter of them done) into a scratch store of
``--backend`` (a temporary SQLite file, or a scratch PostgreSQL database on
``$LRO_BENCH_POSTGRES_DSN``), or into the store at ``--db`` unless it holds that many
already; then times ``client.list_operations`` for page 1 and for page ``--page``
(reached by following the page tokens), with and without a filter. Keyset pagination
should make both cost the same: the goal is a ratio <= 1.5.

    .venv/bin/python -m bench.list_pages [--backend postgresql] [--db URL]

SQLite rows are loaded in multi-row transactions through the store's own connection
and INSERT statement, PostgreSQL rows with COPY through the store's own pool; other
backends are loaded through ``store.create``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator

import lro
from lro._core import transitions
from lro._store.base import OperationRecord, Store
from lro._store.queries import load_queries
from lro._store.sqlite import _row_values

BATCH = 20_000
BASE_TIME_US = 1_700_000_000_000_000


def _records(count: int) -> Iterator[OperationRecord]:
    for index in range(count):
        operation = transitions.new_operation(f"operations/{uuid.UUID(int=index + 1)}")
        if index % 4 == 0:
            operation = transitions.finish(operation)
        time_us = BASE_TIME_US + index * 10
        yield OperationRecord(operation, create_time_us=time_us, update_time_us=time_us)


def _stored_count(client: lro.Client) -> int:
    count = "SELECT count(*) AS n FROM lro_operations"
    if isinstance(client.store, lro.SqliteStore):
        with client.store._connection() as connection:
            return int(connection.execute(count).fetchone()[0])
    if type(client.store).__name__ == "PostgresStore":
        with client.store._connection("count") as connection:  # type: ignore[attr-defined]
            return int(connection.execute(count).fetchone()["n"])
    return -1


def _copy_into_postgres(store: Store, count: int) -> None:
    from lro._store.postgres import row_values

    columns = list(row_values(next(_records(1))))
    copy = f"COPY lro_operations ({', '.join(columns)}) FROM STDIN"
    with store._connection("load") as connection:  # type: ignore[attr-defined]
        with connection.cursor() as cursor, cursor.copy(copy) as rows:
            for record in _records(count):
                rows.write_row(list(row_values(record).values()))
        connection.commit()
        connection.execute("ANALYZE lro_operations")
        connection.commit()


def load(client: lro.Client, count: int) -> float:
    """Seconds to load ``count`` operations."""
    started = time.perf_counter()
    store: Store = client.store
    if isinstance(store, lro.SqliteStore):
        insert = load_queries("sqlite")["insert_operation"]
        with store._connection() as connection:
            connection.execute("PRAGMA synchronous = OFF")
            records = _records(count)
            while batch := [_row_values(r) for r in itertools.islice(records, BATCH)]:
                connection.execute("BEGIN")
                connection.executemany(insert, batch)
                connection.execute("COMMIT")
            connection.execute(f"PRAGMA synchronous = {store.synchronous}")
            connection.execute("ANALYZE")
    elif type(store).__name__ == "PostgresStore":
        _copy_into_postgres(store, count)
    else:
        for record in _records(count):
            store.create(record)
    return time.perf_counter() - started


def token_of_page(client: lro.Client, page: int, page_size: int, query_filter: str) -> str:
    """The page token that reads page number ``page`` (1-based)."""
    token = ""
    for _ in range(page - 1):
        _, token = client.list_operations(query_filter, page_size, token)
    return token


def median_ms(
    client: lro.Client, tokens: tuple[str, str], page_size: int, query_filter: str, n: int
) -> tuple[float, float]:
    """Median milliseconds of ``n`` reads of each page, the two read in turn."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(n):
        for token, samples in zip(tokens, times, strict=True):
            started = time.perf_counter()
            page, _ = client.list_operations(query_filter, page_size, token)
            samples.append(time.perf_counter() - started)
            assert len(page) == page_size
    first, later = (statistics.median(samples) * 1000 for samples in times)
    return first, later


@contextlib.contextmanager
def _store_url(args: argparse.Namespace) -> Iterator[str]:
    """``--db``, else a scratch store of ``--backend``, removed afterwards."""
    if args.db:
        yield args.db
    elif args.backend == "postgresql":
        from bench._postgres import schema_url, scratch_database

        with scratch_database() as database:
            yield schema_url(database, "bench_list")
    else:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/list.db"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="store URL (kept, and reused if it holds --count)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    with _store_url(args) as url, lro.Client(url) as client:
        if _stored_count(client) != args.count:
            print(f"loaded {args.count:,} operations in {load(client, args.count):.1f} s")
        print(f"| filter | page 1 ms | page {args.page} ms | ratio |")
        print("|---|---|---|---|")
        for query_filter in ("", "done = false", "done = true"):
            token = token_of_page(client, args.page, args.page_size, query_filter)
            first, later = median_ms(
                client, ("", token), args.page_size, query_filter, args.repeats
            )
            shown = f"`{query_filter}`" if query_filter else "(none)"
            print(f"| {shown} | {first:.2f} | {later:.2f} | {later / first:.2f} |")


if __name__ == "__main__":
    main()
