"""The fake clock: it moves only when told, and a pause on it passes no real time."""

from __future__ import annotations

import asyncio
import datetime
import threading
from pathlib import Path

import pytest

import lro
import lro.aio
from lro._core.clock import SystemClock
from lro.testing import Environment, FakeClock


def test_it_moves_only_by_advance_and_pauses() -> None:
    clock = FakeClock(1_000_000)
    assert (clock.now_us(), clock.monotonic()) == (1_000_000, 0.0)
    clock.advance(datetime.timedelta(minutes=1))
    clock.sleep(0.5)
    assert clock.now_us() == 61_500_000
    assert clock.monotonic() == 60.5
    assert clock.now() == datetime.datetime(1970, 1, 1, 0, 1, 1, 500_000, tzinfo=datetime.UTC)


@pytest.mark.parametrize("bad", [-1, float("inf"), float("nan")])
def test_it_does_not_go_back_nor_to_infinity(bad: float) -> None:
    with pytest.raises(lro.InvalidArgument):
        FakeClock().advance(bad)


def test_a_wait_returns_at_once_moving_the_clock_unless_the_event_is_set() -> None:
    clock = FakeClock(0)
    event = threading.Event()
    assert clock.wait(event, 30) is False
    assert clock.monotonic() == 30
    event.set()
    assert clock.wait(event, 30) is True
    assert clock.monotonic() == 30


def test_an_async_wait_lets_other_tasks_run_first() -> None:
    clock = FakeClock(0)

    async def scenario() -> tuple[bool, bool]:
        event = asyncio.Event()
        asyncio.get_running_loop().call_soon(event.set)
        first = await clock.wait_async(event, 30)  # the callback runs in the yielded turn
        event.clear()
        return first, await clock.wait_async(event, 30)

    assert asyncio.run(scenario()) == (True, False)
    assert clock.monotonic() == 30


def test_the_aio_client_is_an_lro_aio_client_on_the_same_store_and_clock() -> None:
    with Environment() as env:
        assert isinstance(env.aio_client, lro.aio.Client)
        assert isinstance(env.client, lro.Client)
        assert env.aio_client.store is env.client.store
        assert env.aio_client.runtime.clock is env.clock is env.client.runtime.clock
        created = env.client.new_operation()
        env.clock.advance(10)

        async def read() -> int:
            return (await env.aio_client.get_operation(created.name)).ByteSize()

        assert asyncio.run(read()) > 0
        assert env.client.store.get(created.name).create_time_us == env.clock.now_us() - 10**7


def test_a_client_on_a_store_object_reads_the_stores_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    with lro.Client(lro.SqliteStore(tmp_path / "lro.db", clock=clock)) as client:
        assert client.runtime.clock is clock
    with lro.Client(lro.SqliteStore(tmp_path / "other.db")) as client:
        assert isinstance(client.runtime.clock, SystemClock)
