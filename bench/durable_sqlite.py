"""Durable waits on SQLite: resume latency, the cost of waiting, resumptions per second.

1. Sleepers: N operations whose handlers wait durably (``op.wait(sleep=..., resume_at=)``)
   with due times spread over a few seconds; latency = resumed handler start minus the
   wake-up's due time (both on the store's clock). Baseline in the same run: the same due
   times served by one in-memory timer thread (what a non-durable wait costs at best).
2. Parents: N handlers wait durably for one child each; children finish one by one;
   latency = resumed parent start minus the child's commit time. Baseline: the same
   waits made synchronously (``op.wait(children=...)`` in a thread, by notification).
3. Waiting cost: W operations wait on children that never finish; one idle worker polls
   every ``poll`` seconds; SQL statements are counted with sqlite3's trace callback.
   Baseline: the claim time with no operation waiting.
4. Throughput: M wake-ups that all fall due at one moment, run by 1 and by 3
   ``lro worker`` processes; resumptions per second from that moment to the last finish.

    .venv/bin/python -m bench.durable_sqlite [--synchronous FULL] [--sleepers 1000]
"""

from __future__ import annotations

import argparse
import heapq
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import lro
from lro._core import transitions
from lro._core.names import new_name
from lro._resume.plan import wakeup_store
from lro._store.base import OperationRecord, WaitPlan, WakeupStore, now_us
from lro._store.sqlite import SqliteStore
from lro._store.urls import open_store

BENCH = Path(__file__).resolve().parent


def percentiles(values: list[float]) -> tuple[float, float]:
    """(p50, p99) of ``values``."""
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def settings() -> lro.WorkerSettings:
    """The worker settings of the in-process measurements (defaults, 8 threads)."""
    return lro.WorkerSettings(threads=8)


def sleepers(url: str, count: int, spread: float) -> list[float]:
    """Latencies (ms) from due time to resumed handler start for ``count`` sleepers."""
    latencies: list[float] = []
    lock = threading.Lock()
    with lro.Client(url, worker=settings()) as client:

        @client.resumable("sleeper", state_type=dict)
        def sleeper(op: lro.Operation[dict[str, float]]) -> None:
            if op.resume_point == "woke":
                started_us = now_us()
                wakeup = client.store.get_wakeup(op.name)  # type: ignore[attr-defined]
                with lock:
                    latencies.append((started_us - wakeup.due_time_us) / 1000)
                op.done()
                return
            op.wait(sleep=max(0.0, op.state["due"] - time.time()), resume_at="woke")

        first_due = time.time() + 3.0
        ops = [
            client.start("sleeper", {"due": first_due + spread * i / count}) for i in range(count)
        ]
        for op in ops:
            client.wait_operation(op.name, timeout=120)
    return latencies


def timer_baseline(count: int, spread: float) -> list[float]:
    """Latencies (ms) of one in-memory timer thread serving the same due times."""
    first_due = time.time() + 0.2
    due = [first_due + spread * i / count for i in range(count)]
    heapq.heapify(due)
    latencies = []
    while due:
        pause = due[0] - time.time()
        if pause > 0:
            time.sleep(pause)
        latencies.append((time.time() - heapq.heappop(due)) * 1000)
    return latencies


def parents(url: str, count: int, gap: float) -> tuple[list[float], list[float]]:
    """Latencies (ms) from child commit to parent start: durable, then synchronous."""
    durable: list[float] = []
    lock = threading.Lock()
    with lro.Client(url, worker=settings()) as client:

        @client.resumable("parent", state_type=dict)
        def parent(op: lro.Operation[dict[str, str]]) -> None:
            if op.resume_point == "woke":
                started_us = now_us()
                child = client.store.get(op.state["child"])
                with lock:
                    durable.append((started_us - child.update_time_us) / 1000)
                op.done()
                return
            op.wait(children=[op.state["child"]], timeout=600, resume_at="woke")

        children = [client.new_operation() for _ in range(count)]
        ops = [client.start("parent", {"child": c.name}) for c in children]
        while any(client.store.get(op.name).resume_point != "woke" for op in ops):
            time.sleep(0.05)
        for child in children:
            child.done()
            time.sleep(gap)
        for op in ops:
            client.wait_operation(op.name, timeout=120)
        synchronous = _synchronous_parents(client, count, gap)
    return durable, synchronous


def _synchronous_parents(client: lro.Client, count: int, gap: float) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    children = [client.new_operation() for _ in range(count)]

    def wait(child: lro.Operation[object]) -> None:
        client.new_operation().wait(children=[child.name], timeout=600)
        returned_us = now_us()
        with lock:
            latencies.append((returned_us - client.store.get(child.name).update_time_us) / 1000)

    threads = [threading.Thread(target=wait, args=(c,)) for c in children]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    for child in children:
        child.done()
        time.sleep(gap)
    for thread in threads:
        thread.join()
    return latencies


class TracedStore(SqliteStore):
    """A SQLite store that counts the SQL statements it runs."""

    statements = 0

    def _connect(self) -> sqlite3.Connection:
        connection = super()._connect()
        connection.set_trace_callback(self._count)
        return connection

    def _count(self, _statement: str) -> None:
        TracedStore.statements += 1


def waiting_cost(
    store: WakeupStore, statements: Callable[[], int], waiting: int, poll: float, seconds: float
) -> tuple[float, float]:
    """(statements per poll tick, ms per claim) of one idle worker with ``waiting`` waits.

    ``statements()`` is the number of SQL statements ``store`` has run so far.
    """
    never = store.create(OperationRecord(operation=transitions.new_operation(new_name())))
    plan = WaitPlan(target_kind="handler", target="h", children=(never.name,), timeout_us=10**10)
    for _ in range(waiting):
        store.schedule(OperationRecord(operation=transitions.new_operation(new_name())), None, plan)
    started = time.perf_counter()
    for _ in range(20):
        store.claim_wakeups("probe", lease_us=10**6, limit=8, handlers=["h"], pinned_to="")
    claim_ms = (time.perf_counter() - started) / 20 * 1000
    client = lro.Client(store, worker=False)
    client.resumable("h")(lambda op: None)
    before = statements()
    worker = client.start_worker(lro.WorkerSettings(poll_interval=poll, lease=600))
    time.sleep(seconds)
    counted = statements() - before
    worker.stop()
    client.close()
    return counted / (seconds / poll), claim_ms


def throughput(url: str, workers: int, count: int, lead: float) -> tuple[float, float]:
    """Resumptions per second of ``workers`` processes on ``count`` wake-ups due at once.

    The workers start first. Then every wake-up is scheduled to fall due at one moment,
    ``lead`` seconds after the start, so that none is due before all are written. The
    store turns each sleep into a due time on its own clock, so the due times spread a
    little (on PostgreSQL, by the time between this process's clock reading and the
    database's); the rate counts from the earliest of them to the last finish. Returns
    the rate and the spread of the due times in ms.
    """
    store = wakeup_store(open_store(url))
    worker_command = [sys.executable, "-m", "lro.cli", "worker", "--db", url]
    worker_command += ["--app", "durable_app:client", "--threads", "4", "--poll-interval", "0.05"]
    processes = [
        subprocess.Popen(worker_command, cwd=BENCH, stdout=subprocess.PIPE, text=True)
        for _ in range(workers)
    ]
    for process in processes:  # each prints a line once it is ready
        assert process.stdout is not None
        process.stdout.readline()
    due_at_us = now_us() + round(lead * 1e6)
    names, due_times = [], []
    for _ in range(count):
        record = OperationRecord(operation=transitions.new_operation(new_name()))
        plan = WaitPlan(target_kind="handler", target="finish", sleep_us=due_at_us - now_us())
        stored, wakeup = store.schedule(record, None, plan)
        names.append(stored.name)
        due_times.append(wakeup.due_time_us)
    if now_us() >= min(due_times):
        raise SystemExit(f"scheduling {count} wake-ups took longer than --lead {lead} s")
    while not all(r.done for r in store.get_many(names).values()):
        time.sleep(0.02)
    last_us = max(r.update_time_us for r in store.get_many(names).values())
    for process in processes:
        process.send_signal(signal.SIGTERM)
        process.wait()
        assert process.stdout is not None
        process.stdout.close()
    store.close()
    return count / ((last_us - min(due_times)) / 1e6), (max(due_times) - min(due_times)) / 1000


def report_throughput(urls: Callable[[int, int], str], count: int, lead: float) -> None:
    """Print the median of 3 throughput runs with 1 and with 3 worker processes."""
    medians = []
    for workers in (1, 3):
        runs = [throughput(urls(workers, run), workers, count, lead) for run in range(3)]
        rates = [rate for rate, _ in runs]
        medians.append(statistics.median(rates))
        print(
            f"throughput: {count} wake-ups due at one moment, {workers} worker process(es): "
            f"median of 3 {medians[-1]:,.0f} resumptions/s "
            f"(runs: {', '.join(f'{rate:,.0f}' for rate in rates)}; due times within "
            f"{max(spread for _, spread in runs):.1f} ms)"
        )
    print(f"throughput: ratio 3 processes / 1: {medians[1] / medians[0]:.1f}")


def report_latencies(url: str, args: argparse.Namespace) -> None:
    """Print the sleepers' and the parents' latencies against their baselines."""
    report(
        "sleepers",
        sleepers(url, args.sleepers, args.spread),
        timer_baseline(args.sleepers, args.spread),
    )
    durable, synchronous = parents(url, args.parents, 0.01)
    report("parents", durable, synchronous)


def report_waiting_cost(
    stores: Callable[[str], tuple[WakeupStore, Callable[[], int]]], waiting: int
) -> None:
    """Print the statements per tick and the claim time with ``waiting`` waits and none."""
    per_tick, claim_ms = waiting_cost(*stores("idle"), waiting, 0.1, 3.0)
    _, empty_claim_ms = waiting_cost(*stores("empty"), 0, 0.1, 1.0)
    print(
        f"waiting {waiting}: {per_tick:.2f} statements per poll tick; claim "
        f"{claim_ms:.2f} ms vs {empty_claim_ms:.2f} ms with none waiting "
        f"(ratio {claim_ms / empty_claim_ms:.1f})"
    )


def parser() -> argparse.ArgumentParser:
    """The options of the durable-wait benchmarks."""
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--sleepers", type=int, default=1000)
    options.add_argument("--spread", type=float, default=5.0, help="seconds of due times")
    options.add_argument("--parents", type=int, default=200)
    options.add_argument("--waiting", type=int, default=10_000)
    options.add_argument("--throughput", type=int, default=1000)
    options.add_argument(
        "--lead", type=float, default=10.0, help="seconds from the start to the one due time"
    )
    return options


def main() -> None:
    options = parser()
    options.add_argument("--synchronous", default="FULL")
    args = options.parse_args()
    os.environ.pop("LRO_DATABASE_URL", None)
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        report_latencies(f"sqlite:///{workdir}/bench.db?synchronous={args.synchronous}", args)

        def traced(label: str) -> tuple[WakeupStore, Callable[[], int]]:
            TracedStore.statements = 0
            store = TracedStore(workdir / f"{label}.db", synchronous="OFF")
            return store, lambda: TracedStore.statements

        report_waiting_cost(traced, args.waiting)
        report_throughput(
            lambda w, r: f"sqlite:///{workdir}/throughput-{w}-{r}.db", args.throughput, args.lead
        )


def report(what: str, latencies: list[float], baseline: list[float]) -> None:
    p50, p99 = percentiles(latencies)
    b50, b99 = percentiles(baseline)
    print(
        f"{what} ({len(latencies)}): p50 {p50:.1f} ms, p99 {p99:.1f} ms; baseline p50 "
        f"{b50:.2f} ms, p99 {b99:.2f} ms; ratio p50 {p50 / max(b50, 1e-3):.1f}"
    )


if __name__ == "__main__":
    main()
