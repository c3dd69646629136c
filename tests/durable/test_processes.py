"""Worker processes (``lro worker``), on SQLite, PostgreSQL and Spanner: a SIGKILL loses
nothing, and several processes share the work without running one operation twice at
once.

The Spanner emulator runs one read-write transaction at a time across all processes and
aborts the others, so there the tests use fewer operations (the same runs at full size
take about 20 s and 35 s on it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from google.protobuf import struct_pb2, wrappers_pb2

import lro
from tests.conftest import fresh_postgres_url, fresh_spanner_url
from tests.durable.conftest import eventually
from tests.durable.ledger import LEDGER_ENV, ledger

REPO = Path(__file__).resolve().parents[2]
APP = "tests.durable.process_app:client"
THREADS = 4
# Operations of each kind per test, by backend.
SIZES = {"sqlite": 100, "postgresql": 100, "spanner": 20}
STARTED: list[WorkerProcess] = []


@pytest.fixture(params=list(SIZES))
def parallel_store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, int]:
    """A URL of an empty store on each backend, and how many operations to run there."""
    if request.param == "postgresql":
        url = fresh_postgres_url(request.getfixturevalue("postgres_database_url"))
    elif request.param == "spanner":
        url = fresh_spanner_url(request.getfixturevalue("spanner_database"))
    else:
        url = f"sqlite:///{tmp_path}/lro.db"
    return url, SIZES[request.param]


@pytest.fixture(autouse=True)
def _no_worker_left() -> Iterator[None]:
    """Kill the worker processes a failed test left running, so they fail no other test."""
    yield
    while STARTED:
        STARTED.pop().kill()


class WorkerProcess:
    """An ``lro worker`` subprocess, started and ready."""

    def __init__(self, url: str, ledger_path: Path, log: Path, lease: float) -> None:
        STARTED.append(self)
        self._log: IO[str] = log.open("a")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lro.cli",
                "worker",
                "--db",
                url,
                "--app",
                APP,
                "--threads",
                str(THREADS),
                "--lease",
                str(lease),
                "--poll-interval",
                "0.05",
            ],
            cwd=REPO,
            env={
                **os.environ,
                LEDGER_ENV: str(ledger_path),
                "PYTHONPATH": str(REPO),
                "PYTHONFAULTHANDLER": "1",  # a stack dump on SIGABRT: see stop()
            },
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.process.stdout is not None
        banner = self.process.stdout.readline()
        assert banner.startswith("lro worker"), log.read_text()
        assert "handlers: waiter" in banner

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig``, wait for the exit, return the status; a worker that does not
        exit within two minutes is killed, and the test fails with its log."""
        self.process.send_signal(sig)
        try:
            status = self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self._dump_threads()
            tail = self._log_tail()
            self.kill()
            raise AssertionError(f"the worker did not stop:\n{tail}") from None
        self._close_files()
        return status

    def kill(self) -> None:
        """Kill the process if it still runs, and close its files."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=60)
        self._close_files()

    def _close_files(self) -> None:
        assert self.process.stdout is not None
        self.process.stdout.close()
        self._log.close()

    def _dump_threads(self) -> None:
        """Make the process print every thread's stack on its log (faulthandler, on
        SIGABRT), and wait for it to die of it."""
        self.process.send_signal(signal.SIGABRT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def _log_tail(self) -> str:
        self._log.flush()
        return "\n".join(Path(self._log.name).read_text().splitlines()[-200:])


def _ledger_rows(path: Path, table: str) -> list[tuple[str, str, int]]:
    with contextlib.closing(ledger(str(path))) as connection:
        return list(connection.execute(f"SELECT name, token, pid FROM {table}"))


def _all_done(client: lro.Client, names: list[str]) -> bool:
    return all(r.done for r in client.store.get_many(names).values())


def _finish_later(children: list[lro.Operation[object]], gap: float) -> threading.Thread:
    def finish() -> None:
        for child in children:
            time.sleep(gap)
            child.done()

    thread = threading.Thread(target=finish)
    thread.start()
    return thread


def test_a_worker_killed_midway_loses_nothing_and_finishes_nothing_twice(
    parallel_store: tuple[str, int], tmp_path: Path
) -> None:
    (url, size), ledger_path = parallel_store, tmp_path / "ledger.db"
    producer = lro.Client(url, worker=False)
    ledger(str(ledger_path)).close()
    first = WorkerProcess(url, ledger_path, tmp_path / "worker.log", lease=1.0)
    children = [producer.new_operation() for _ in range(size)]
    ops = [
        producer.start("waiter", {"sleep": 0.3 + i * 0.02, "work": 0.05}, registered_elsewhere=True)
        for i in range(size)
    ]
    ops += [
        producer.start("waiter", {"child": c.name, "work": 0.05}, registered_elsewhere=True)
        for c in children
    ]
    names = [op.name for op in ops]
    finisher = _finish_later(children, 0.02)

    assert eventually(lambda: len(_ledger_rows(ledger_path, "completions")) >= 0.3 * size, 60)
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    completed_before_kill = len(_ledger_rows(ledger_path, "completions"))
    assert completed_before_kill < len(names), "the kill came too late to test anything"
    second = WorkerProcess(url, ledger_path, tmp_path / "worker.log", lease=1.0)
    finisher.join()
    assert eventually(lambda: _all_done(producer, names), 90), "operations were lost"
    assert second.stop() == 0

    records = producer.store.get_many(names)
    runs, completions = (_ledger_rows(ledger_path, t) for t in ("runs", "completions"))
    run_tokens = {(name, token) for name, token, _ in runs}
    for name in names:
        operation = records[name].operation
        assert not operation.HasField("error"), operation.error
        response = struct_pb2.Struct()
        lro.unmarshal_operation(operation, response)
        # The run that finished the operation is one the ledger saw.
        assert (name, response["token"]) in run_tokens
    finished = Counter(name for name, _, _ in completions)
    assert max(finished.values()) == 1  # no operation completed twice
    # Only the few in flight at the kill may have run twice or lost their ledger line.
    assert len(set(names) - finished.keys()) <= THREADS
    assert sum(n > 1 for n in Counter(name for name, _, _ in runs).values()) <= THREADS
    pids = Counter(pid for _, _, pid in completions)
    assert len(pids) == 2, pids  # both workers finished some
    producer.close()


def test_three_worker_processes_never_run_one_operation_twice(
    parallel_store: tuple[str, int], tmp_path: Path
) -> None:
    (url, size), ledger_path = parallel_store, tmp_path / "ledger.db"
    producer = lro.Client(url, worker=False)
    ledger(str(ledger_path)).close()
    # On the emulator one read-write transaction runs at a time and the others are retried
    # after seconds: a finish (or a lease renewal) can take longer than 10 s there.
    lease = 30.0 if url.startswith("spanner:") else 10.0
    workers = [
        WorkerProcess(url, ledger_path, tmp_path / "worker.log", lease=lease) for _ in range(3)
    ]
    # Many wake-ups due at the same moments, once all are written (a slow store takes
    # seconds to write them). Each run holds its thread until a run has started in another
    # process, so one worker cannot take them all: the workers compete for them.
    due = time.monotonic() + 5

    def sleep(i: int) -> float:
        return max(0.0, due - time.monotonic()) + (i % 10) * 0.1

    ops = [
        producer.start(
            "waiter", {"sleep": sleep(i), "work": 0.2, "share": True}, registered_elsewhere=True
        )
        for i in range(3 * size)
    ]
    names = [op.name for op in ops]
    assert eventually(lambda: _all_done(producer, names), 90)
    assert [worker.stop() for worker in workers] == [0, 0, 0]

    runs = _ledger_rows(ledger_path, "runs")
    per_operation = Counter(name for name, _, _ in runs)
    assert sorted(per_operation) == sorted(names)
    assert set(per_operation.values()) == {1}  # each resumed exactly once
    assert len({pid for _, _, pid in runs}) >= 2, "the work was not shared"
    assert len({pid for _, _, pid in _ledger_rows(ledger_path, "starts")}) >= 2
    assert all(r.attempts == 0 for r in producer.store.get_many(names).values())
    producer.close()


def test_the_worker_command_explains_a_bad_app(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lro.cli",
            "worker",
            "--db",
            f"sqlite:///{tmp_path}/x.db",
            "--app",
            "tests.durable.no_such_module:client",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "cannot import 'tests.durable.no_such_module'" in result.stderr


def test_lro_worker_runs_the_async_handlers_of_an_aio_client(
    parallel_store: tuple[str, int], tmp_path: Path
) -> None:
    parallel_store_url = parallel_store[0]
    log = tmp_path / "aio-worker.log"
    with log.open("a") as errors:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lro.cli",
                "worker",
                "--db",
                parallel_store_url,
                "--app",
                "tests.durable.process_app_aio:client",
                "--poll-interval",
                "0.05",
            ],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        assert process.stdout is not None
        try:
            banner = process.stdout.readline()
            assert "handlers: napper" in banner, log.read_text()
            with lro.Client(parallel_store_url, worker=False) as producer:
                op = producer.start("napper", state={"sleep": 0.05}, registered_elsewhere=True)
                final = producer.wait_operation(op.name, timeout=90)
            assert final.done, log.read_text()
            value = wrappers_pb2.StringValue()
            lro.unmarshal_operation(final, value)
            assert value.value == "on the loop: True"
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
            process.stdout.close()
