"""Lifecycle throughput on PostgreSQL: lro's API against the same SQL through raw psycopg.

One lifecycle is create, set_metadata, done. The baseline sends the statements lro sends
(an INSERT and two compare-and-set UPDATEs, autocommitted, same payloads, same schema
with its NOTIFY trigger) over one psycopg connection; a second baseline does the same
while another connection of the process LISTENs, as each lro store does. All run with
one connection in one process, then in four processes at once; all in the same run.
Each figure is the median of the repeats, the kinds taking turns. Prints lifecycles
per second and the ratios, and the CPU time per lifecycle of the one-process runs.

    .venv/bin/python -m bench.lifecycle_postgres [--rounds N] [--repeats R]

The server is ``$LRO_BENCH_POSTGRES_DSN`` (default: the local one, user postgres);
the benchmark makes its own database there and drops it.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from typing import NamedTuple

import psycopg
from google.protobuf import struct_pb2, wrappers_pb2

import lro
from bench._postgres import schema_url, scratch_database
from lro._core import transitions
from lro._store.base import OperationRecord, now_us
from lro._store.postgres import row_values
from lro._store.postgres_settings import parse_postgres_url
from lro._store.queries import load_queries

QUERIES = load_queries("postgresql")


class Timing(NamedTuple):
    """Seconds of one run: on the wall clock, and of CPU in this process (all threads)."""

    wall: float
    cpu: float


class _Stopwatch:
    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> Timing:
        return Timing(time.perf_counter() - self.wall, time.process_time() - self.cpu)


def api_lifecycles(url: str, count: int) -> Timing:
    """The time of ``count`` lifecycles through lro.Client."""
    with lro.Client(url) as client:
        stopwatch = _Stopwatch()
        for index in range(count):
            op = client.new_operation()
            op.set_metadata(struct_pb2.Struct(fields={"i": struct_pb2.Value(number_value=index)}))
            op.done(wrappers_pb2.Int32Value(value=index))
        return stopwatch.read()


def raw_lifecycles(url: str, count: int) -> Timing:
    """The time of ``count`` lifecycles as the same SQL through one psycopg connection."""
    settings = parse_postgres_url(url)
    options = f"-c search_path={settings.schema}"
    with psycopg.connect(settings.conninfo, autocommit=True, options=options) as connection:
        stopwatch = _Stopwatch()
        for index in range(count):
            running = transitions.new_operation(f"operations/{uuid.uuid4()}")
            record = OperationRecord(running, create_time_us=now_us(), update_time_us=now_us())
            connection.execute(QUERIES["insert_operation"], row_values(record))
            metadata = struct_pb2.Struct(fields={"i": struct_pb2.Value(number_value=index)})
            with_metadata = transitions.set_metadata(running, metadata)
            finished = transitions.finish(with_metadata, wrappers_pb2.Int32Value(value=index))
            for version, operation in enumerate((with_metadata, finished), start=1):
                values = row_values(record.replace(operation=operation, version=version + 1))
                values.update(update_time_us=now_us(), expected_version=version)
                connection.execute(QUERIES["update_operation"], values)
        return stopwatch.read()


def raw_lifecycles_heard(url: str, count: int) -> Timing:
    """``raw_lifecycles`` while another connection of this process LISTENs, as lro's does."""
    settings = parse_postgres_url(url)
    with psycopg.connect(settings.conninfo, autocommit=True) as listening:
        listening.execute(f'LISTEN "lro_changes:{settings.schema}"')
        stopping = threading.Event()

        def drain() -> None:
            while not stopping.is_set():
                for _notification in listening.notifies(timeout=0.1):
                    pass

        thread = threading.Thread(target=drain)
        thread.start()
        try:
            return raw_lifecycles(url, count)
        finally:
            stopping.set()
            thread.join()


RUNNERS: dict[str, Callable[[str, int], Timing]] = {
    "api": api_lifecycles,
    "raw": raw_lifecycles,
    "raw_heard": raw_lifecycles_heard,
}


def _worker(kind: str, url: str, count: int, barrier: multiprocessing.synchronize.Barrier) -> None:
    barrier.wait()
    RUNNERS[kind](url, count)


def in_processes(kind: str, url: str, count: int, processes: int) -> Timing:
    """Wall seconds until ``processes`` processes have each run ``count`` lifecycles (the
    CPU of other processes is not counted: nan)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes + 1)
    workers = [
        context.Process(target=_worker, args=(kind, url, count, barrier)) for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    barrier.wait()  # every worker has imported and is about to start
    started = time.perf_counter()
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise RuntimeError(f"a {kind} worker failed with exit code {worker.exitcode}")
    return Timing(time.perf_counter() - started, math.nan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=1000, help="lifecycles per process")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(
        "| processes | lifecycles | raw psycopg /s | raw + listener /s | lro /s "
        "| ratio lro/raw | ratio lro/(raw + listener) |"
    )
    print("|---|---|---|---|---|---|---|")
    cpu_line = ""
    with scratch_database() as database:
        for processes in (1, 4):
            runs: dict[str, list[Timing]] = {kind: [] for kind in RUNNERS}
            for _ in range(args.repeats):  # kinds take turns, so load drifts hit each alike
                for kind, one_run in runs.items():
                    url = schema_url(database, f"bench_{kind}")
                    lro.Client(url).close()  # the schema, migrated, outside the timing
                    if processes == 1:
                        one_run.append(RUNNERS[kind](url, args.rounds))
                    else:
                        one_run.append(in_processes(kind, url, args.rounds, processes))
            seconds = {kind: statistics.median(t.wall for t in one) for kind, one in runs.items()}
            total = args.rounds * processes
            raw, heard, api = (total / seconds[kind] for kind in ("raw", "raw_heard", "api"))
            print(
                f"| {processes} | {total} | {raw:,.0f} | {heard:,.0f} | {api:,.0f} "
                f"| {api / raw:.2f} | {api / heard:.2f} |"
            )
            if processes == 1:
                cpu = {
                    kind: statistics.median(t.cpu for t in one) / total * 1e6
                    for kind, one in runs.items()
                }
                cpu_line = (
                    f"CPU per lifecycle, one process (time.process_time, all threads): raw "
                    f"{cpu['raw']:.0f} us, raw + listener {cpu['raw_heard']:.0f} us, "
                    f"lro {cpu['api']:.0f} us"
                )
    print(cpu_line)


if __name__ == "__main__":
    main()
