"""Every backend reads the time from the clock it is given: due times, claims, leases,
retry delays and create and update times all follow a fake clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from lro._core import transitions
from lro._core.names import new_name
from lro._resume.plan import wakeup_store
from lro._store.base import OperationRecord, WaitPlan, Wakeup, WakeupStore
from lro._store.urls import open_store
from lro.testing import FakeClock

DAY_US = 86_400 * 10**6
LEASE_US = 30 * 10**6
SLEEP_A_DAY = WaitPlan(target_kind="handler", target="h", sleep_us=DAY_US)
# A day in the past: if any backend read the real time, these would differ.
START_US = 1_700_000_000 * 10**6


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START_US)


@pytest.fixture
def store(store_url: str, clock: FakeClock) -> Iterator[WakeupStore]:
    opened = wakeup_store(open_store(store_url, clock=clock))
    yield opened
    opened.close()


def _schedule(store: WakeupStore, plan: WaitPlan = SLEEP_A_DAY) -> tuple[OperationRecord, Wakeup]:
    record = OperationRecord(operation=transitions.new_operation(new_name()))
    return store.schedule(record, None, plan)


def _claim(store: WakeupStore, owner: str = "w", limit: int = 100) -> list[Wakeup]:
    return store.claim_wakeups(owner, lease_us=LEASE_US, limit=limit, handlers=["h"], pinned_to="")


def test_times_written_are_the_clocks(store: WakeupStore, clock: FakeClock) -> None:
    record, wakeup = _schedule(store)
    assert record.create_time_us == record.update_time_us == START_US
    assert wakeup.due_time_us == START_US + DAY_US
    clock.advance(5)
    updated = store.update(record.replace(resume_point="p"), expected_version=record.version)
    assert updated.update_time_us == START_US + 5 * 10**6
    assert store.get(record.name).update_time_us == START_US + 5 * 10**6


def test_a_wakeup_is_claimed_when_the_clock_says_it_is_due(
    store: WakeupStore, clock: FakeClock
) -> None:
    record, _ = _schedule(store)
    assert _claim(store) == []
    clock.advance(86_399)
    assert _claim(store) == []
    clock.advance(1)
    [claimed] = _claim(store)
    assert claimed.name == record.name
    assert claimed.lease_expires_us == clock.now_us() + LEASE_US


def test_a_lease_ends_and_is_renewed_on_the_clock(store: WakeupStore, clock: FakeClock) -> None:
    _schedule(store, WaitPlan(target_kind="handler", target="h"))
    [held] = _claim(store, "first")
    clock.advance(29)
    assert _claim(store, "second") == []
    assert store.renew_wakeups([held.lease_token], LEASE_US) == {held.lease_token}
    clock.advance(29)  # 58 s after the claim, 29 s after the renewal
    assert _claim(store, "second") == []
    clock.advance(1)
    [taken] = _claim(store, "second")
    assert taken.lease_owner == "second"


def test_a_failure_postpones_by_the_retry_delay_on_the_clock(
    store: WakeupStore, clock: FakeClock
) -> None:
    record, _ = _schedule(store, WaitPlan(target_kind="handler", target="h"))
    [held] = _claim(store)
    clock.advance(3)
    counted = store.record_failure(held, "boom", retry_delay_us=10 * 10**6)
    assert counted is not None
    assert counted.attempts == 1
    assert counted.update_time_us == START_US + 3 * 10**6
    clock.advance(9.999)
    assert _claim(store) == []
    clock.advance(0.001)
    assert [w.name for w in _claim(store)] == [record.name]


def test_postpone_and_unserved_handlers_follow_the_clock(
    store: WakeupStore, clock: FakeClock
) -> None:
    _schedule(store, WaitPlan(target_kind="handler", target="elsewhere"))
    unserved = store.unserved_handlers  # type: ignore[attr-defined]
    assert unserved(["h"], LEASE_US) == set()  # due, but not overdue yet
    clock.advance(31)
    assert unserved(["h"], LEASE_US) == {"elsewhere"}
    record, _ = _schedule(store, WaitPlan(target_kind="handler", target="h"))
    [held] = _claim(store)
    assert store.postpone_wakeup(held, 60 * 10**6)
    clock.advance(59)
    assert _claim(store) == []
    clock.advance(1)
    assert [w.name for w in _claim(store)] == [record.name]


def test_claims_racing_on_the_fake_clock_take_each_wakeup_once(
    store: WakeupStore, clock: FakeClock
) -> None:
    names = {_schedule(store)[0].name for _ in range(40)}
    clock.advance(86_400)
    start = threading.Barrier(4)
    claimed: list[list[str]] = []

    def claimer(owner: str) -> None:
        start.wait()
        mine: list[str] = []
        while batch := _claim(store, owner, limit=3):
            mine.extend(w.name for w in batch)
        claimed.append(mine)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [name for mine in claimed for name in mine]
    assert sorted(every) == sorted(names)  # each one claimed, none twice
