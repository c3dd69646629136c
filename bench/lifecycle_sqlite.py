"""Lifecycle throughput on SQLite: lro's API against the same SQL through raw sqlite3.

One lifecycle is create, set_metadata, done. The baseline runs the statements lro runs
(an INSERT and two compare-and-set UPDATEs) with the same pragmas and payloads, writing
the same rows, in the same process and run. Prints operations per second for both and
the ratio.

    .venv/bin/python -m bench.lifecycle_sqlite [--rounds N] [--repeats R]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from google.protobuf import struct_pb2, wrappers_pb2

import lro
from lro._core import transitions
from lro._store.base import OperationRecord, now_us
from lro._store.queries import load_queries
from lro._store.sqlite import _row_values

QUERIES = load_queries("sqlite")


def api_lifecycles(url: str, count: int) -> float:
    """Seconds for ``count`` lifecycles through lro.Client."""
    with lro.Client(url) as client:
        started = time.perf_counter()
        for index in range(count):
            op = client.new_operation()
            op.set_metadata(struct_pb2.Struct(fields={"i": struct_pb2.Value(number_value=index)}))
            op.done(wrappers_pb2.Int32Value(value=index))
        return time.perf_counter() - started


def raw_lifecycles(path: Path, synchronous: str, count: int) -> float:
    """Seconds for ``count`` lifecycles as the same SQL through sqlite3."""
    lro.SqliteStore(path, synchronous=synchronous).close()  # same schema
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA busy_timeout = 5000")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute(f"PRAGMA synchronous = {synchronous}")
    started = time.perf_counter()
    for index in range(count):
        running = transitions.new_operation(f"operations/{uuid.uuid4()}")
        record = OperationRecord(running, create_time_us=now_us(), update_time_us=now_us())
        connection.execute(QUERIES["insert_operation"], _row_values(record))
        metadata = struct_pb2.Struct(fields={"i": struct_pb2.Value(number_value=index)})
        with_metadata = transitions.set_metadata(running, metadata)
        # Done keeps the metadata, as lro's op.done does: the same row as lro writes.
        finished = transitions.finish(with_metadata, wrappers_pb2.Int32Value(value=index))
        for version, operation in enumerate((with_metadata, finished), start=1):
            values = _row_values(record.replace(operation=operation, version=version + 1))
            connection.execute(
                QUERIES["update_operation"],
                {**values, "update_time_us": now_us(), "expected_version": version},
            )
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def best_of(repeats: int, run: Callable[[int], float]) -> float:
    """The median seconds over ``repeats`` runs (each on a fresh file)."""
    return statistics.median(run(i) for i in range(repeats))


def _raw_run(folder: Path, synchronous: str, count: int) -> Callable[[int], float]:
    return lambda i: raw_lifecycles(folder / f"raw-{synchronous}-{i}.db", synchronous, count)


def _api_run(folder: str, synchronous: str, count: int) -> Callable[[int], float]:
    url = f"sqlite:///{folder}/api-{synchronous}-{{}}.db?synchronous={synchronous}"
    return lambda i: api_lifecycles(url.format(i), count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=0, help="lifecycles per run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("| synchronous | lifecycles | raw sqlite3 ops/s | lro ops/s | ratio |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for synchronous, default_rounds in (("FULL", 300), ("NORMAL", 2000)):
            count = args.rounds or default_rounds
            raw = best_of(args.repeats, _raw_run(Path(folder), synchronous, count))
            api = best_of(args.repeats, _api_run(folder, synchronous, count))
            print(
                f"| {synchronous} | {count} | {count / raw:,.0f} | {count / api:,.0f} "
                f"| {raw / api:.2f} |"
            )


if __name__ == "__main__":
    main()
