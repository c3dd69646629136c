"""The runner behind lro.testing on every backend: due wake-ups run in the calling thread,
on the fake clock, and runners racing on one store run each wake-up once."""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterator

import pytest

import lro
from lro._resume.inline import InlineRunner
from lro._store.urls import open_store
from lro.testing import FakeClock


@pytest.fixture
def fake_client(store_url: str) -> Iterator[tuple[lro.Client, FakeClock]]:
    clock = FakeClock()
    client = lro.Client(open_store(store_url, clock=clock), worker=False, resumer="embedded")
    yield client, clock
    client.close()


def test_racing_runners_run_each_due_wakeup_once_on_the_fake_clock(
    fake_client: tuple[lro.Client, FakeClock],
) -> None:
    client, clock = fake_client
    runs: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    @client.resumable("hourly")
    def hourly(op: lro.Operation[None]) -> None:
        with lock:
            runs[f"{op.name} {op.resume_point}"] += 1
        if op.resume_point == "":
            op.wait(sleep=3600, resume_at="later")
            return
        op.done()

    names = [client.start("hourly").name for _ in range(12)]
    runners = [InlineRunner(client.runtime) for _ in range(3)]
    totals: list[int] = []

    def race(runner: InlineRunner, start: threading.Barrier) -> None:
        start.wait()
        count = runner.run_until_idle()
        with lock:
            totals.append(count)

    for advance in (0, 3599, 1):
        clock.advance(advance)
        start = threading.Barrier(len(runners))
        threads = [threading.Thread(target=race, args=(r, start)) for r in runners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if advance == 3599:
            assert sum(runs.values()) == len(names)  # only the first runs, before the hour
    for runner in runners:
        runner.close()
    assert sum(totals) == 2 * len(names)
    assert runs == {f"{name} {point}": 1 for name in names for point in ("", "later")}
    assert all(client.get_operation(name).done for name in names)
