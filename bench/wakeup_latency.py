"""Cross-process wake-up latency: a parent waiting in this process on a child that
another process finishes.

Each round, this process (B) creates a parent and a child operation, hands the child's
name to process A, and waits on it with ``poll_frequency=60`` (so only a notification
can end the wait early). A sleeps 2 to 22 ms, finishes the child, and reports
the time its ``done()`` returned, that is just after the commit. The latency is from
that moment to the return of B's wait, on the system-wide monotonic clock. On
PostgreSQL the same run measures raw psycopg LISTEN/NOTIFY between two processes as
the floor; on SQLite the floor is the change poll interval.

    .venv/bin/python -m bench.wakeup_latency [--rounds N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import psycopg

import lro
from bench._postgres import schema_url, scratch_database
from lro._store.postgres_settings import parse_postgres_url

# A waits a random 2 to 22 ms before finishing, so that its commits do not lock into
# step with SQLite's 20 ms poll (which would bias the figures either way).
GAP_SECONDS = (0.002, 0.022)


def finisher(url: str) -> None:
    """Process A: finish each operation named on stdin; print when its commit returned."""
    with lro.Client(url) as client:
        for line in sys.stdin:
            op = client.new_operation(existing=line.strip())
            time.sleep(random.uniform(*GAP_SECONDS))  # noqa: S311 (not for secrets)
            op.done()
            print(time.monotonic_ns(), flush=True)


def notifier(url: str) -> None:
    """Process A for the floor: NOTIFY for each line on stdin; print when it committed."""
    settings = parse_postgres_url(url)
    with psycopg.connect(settings.conninfo, autocommit=True) as connection:
        for line in sys.stdin:
            time.sleep(random.uniform(*GAP_SECONDS))  # noqa: S311 (not for secrets)
            connection.execute("SELECT pg_notify('lro_bench', %s)", (line.strip(),))
            print(time.monotonic_ns(), flush=True)


def _start(role: str, url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.wakeup_latency", "--role", role, "--url", url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _rounds(process: subprocess.Popen[str], rounds: int, one: Callable[[int], str]) -> list[float]:
    """Milliseconds from A's commit to B's wake-up, one per round."""
    assert process.stdin is not None
    assert process.stdout is not None
    latencies = []
    try:
        for index in range(rounds):
            woke_ns = int(one(index))
            committed_ns = int(process.stdout.readline())
            latencies.append((woke_ns - committed_ns) / 1e6)
    finally:
        process.stdin.close()
        process.wait(timeout=30)
    return latencies


def lro_latencies(url: str, rounds: int) -> list[float]:
    """Wake-up latencies of ``Operation.wait`` with the child finished by process A."""
    finishing = _start("finisher", url)
    to_finisher = finishing.stdin
    assert to_finisher is not None
    with lro.Client(url) as client:

        def one(_: int) -> str:
            parent, child = client.new_operation(), client.new_operation()
            to_finisher.write(f"{child.name}\n")
            to_finisher.flush()
            parent.wait(children=[child.name], timeout=30, poll_frequency=60)
            return str(time.monotonic_ns())

        return _rounds(finishing, rounds, one)


def raw_notify_latencies(url: str, rounds: int) -> list[float]:
    """Latencies of bare LISTEN/NOTIFY through psycopg, the floor on PostgreSQL."""
    settings = parse_postgres_url(url)
    with psycopg.connect(settings.conninfo, autocommit=True) as listening:
        listening.execute("LISTEN lro_bench")
        notifying = _start("notifier", url)
        to_notifier = notifying.stdin
        assert to_notifier is not None

        def one(index: int) -> str:
            to_notifier.write(f"{index}\n")
            to_notifier.flush()
            for _notification in listening.notifies(stop_after=1):
                return str(time.monotonic_ns())
            raise RuntimeError("no notification")

        return _rounds(notifying, rounds, one)


def _row(label: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * len(ordered)))]
    return f"| {label} | {len(ordered)} | {p50:.2f} | {p99:.2f} | {ordered[-1]:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--role", choices=["finisher", "notifier"])
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.role:
        {"finisher": finisher, "notifier": notifier}[args.role](args.url)
        return
    print("| wake-up | rounds | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    with scratch_database() as database:
        url = schema_url(database, "bench_wake")
        print(_row("PostgreSQL: raw LISTEN/NOTIFY (floor)", raw_notify_latencies(url, args.rounds)))
        print(_row("PostgreSQL: lro wait", lro_latencies(url, args.rounds)), flush=True)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/wake.db"
        print(_row("SQLite (20 ms poll): lro wait", lro_latencies(url, args.rounds)))


if __name__ == "__main__":
    main()
