"""``claim_wakeup``: the resume endpoint's claim of one operation's wake-up, on every
backend; only a due, free wake-up pinned to the calling task and for its handler, and
exclusive under concurrent claims."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest

from lro._core import transitions
from lro._core.names import new_name
from lro._resume.binding import task_pin
from lro._resume.plan import wakeup_store
from lro._store.base import OperationRecord, WaitPlan, Wakeup, WakeupStore
from lro._store.urls import open_store
from tests.races import at_once

PIN = task_pin("token-1")
LEASE_US = 10**7
RACERS = 6
ROUNDS = 8


@pytest.fixture
def store(store_url: str) -> Iterator[WakeupStore]:
    """An empty store on each backend, with its wake-up verbs."""
    opened = wakeup_store(open_store(store_url))
    yield opened
    opened.close()


def _bound(store: WakeupStore, sleep_us: int = 0, pin: str = PIN) -> Wakeup:
    record = OperationRecord(operation=transitions.new_operation(new_name()))
    plan = WaitPlan(target_kind="handler", target="h", sleep_us=sleep_us, pinned_to=pin)
    return store.schedule(record, None, plan)[1]


def _claim(store: WakeupStore, name: str, pin: str = PIN, handler: str = "h") -> Wakeup | None:
    return store.claim_wakeup(name, owner="e", lease_us=LEASE_US, pinned_to=pin, handler=handler)


def test_a_due_bound_wakeup_is_claimed_with_a_lease(store: WakeupStore) -> None:
    wakeup = _bound(store)
    claimed = _claim(store, wakeup.name)
    assert claimed is not None
    assert (claimed.name, claimed.target, claimed.pinned_to) == (wakeup.name, "h", PIN)
    assert claimed.lease_token
    assert claimed.lease_owner == "e"
    assert claimed.claims == wakeup.claims + 1
    assert store.get_wakeup(wakeup.name) == claimed
    assert _claim(store, wakeup.name) is None  # leased
    assert store.finish_wakeup(claimed)
    assert store.get_wakeup(wakeup.name) is None


def test_only_the_wakeup_of_that_task_handler_and_operation_is_claimed(
    store: WakeupStore,
) -> None:
    wakeup = _bound(store)
    other = _bound(store)
    unpinned = _bound(store, pin="")
    assert _claim(store, wakeup.name, pin=task_pin("token-2")) is None
    assert _claim(store, wakeup.name, pin="") is None
    assert _claim(store, wakeup.name, handler="other") is None
    assert _claim(store, unpinned.name) is None
    assert _claim(store, new_name()) is None
    claimed = _claim(store, wakeup.name)
    assert claimed is not None
    assert claimed.name == wakeup.name
    assert store.get_wakeup(other.name) == other  # untouched
    assert store.get_wakeup(unpinned.name) == unpinned


def test_a_wakeup_that_is_not_due_is_not_claimed(store: WakeupStore) -> None:
    wakeup = _bound(store, sleep_us=60 * 10**6)
    assert _claim(store, wakeup.name) is None
    assert store.get_wakeup(wakeup.name) == wakeup


def test_a_released_or_postponed_wakeup_is_claimed_again(store: WakeupStore) -> None:
    wakeup = _bound(store)
    first = _claim(store, wakeup.name)
    assert first is not None
    assert store.postpone_wakeup(first, 0)
    second = _claim(store, wakeup.name)
    assert second is not None
    assert second.lease_token != first.lease_token
    assert not store.finish_wakeup(first)  # the first lease is over
    assert store.release_wakeups([second.lease_token]) == 1
    assert _claim(store, wakeup.name) is not None


def test_workers_never_claim_a_bound_wakeup(store: WakeupStore) -> None:
    wakeup = _bound(store)
    for pinned_to in ("", "an-instance"):
        claimed = store.claim_wakeups(
            "w", lease_us=LEASE_US, limit=10, handlers=["h"], pinned_to=pinned_to
        )
        assert claimed == []
    assert store.get_wakeup(wakeup.name) == wakeup


def test_concurrent_claims_of_one_wakeup_give_it_to_one(store: WakeupStore) -> None:
    for _ in range(ROUNDS):
        wakeup = _bound(store)
        results = at_once(RACERS, functools.partial(_claim, store, wakeup.name))
        won = [result for result in results if isinstance(result, Wakeup)]
        assert [r for r in results if r is not None and not isinstance(r, Wakeup)] == []
        assert len(won) == 1
        assert store.get_wakeup(wakeup.name) == won[0]
