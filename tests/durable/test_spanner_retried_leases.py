"""Spanner transactions that are aborted or wait for their turn: a retried claim or
lease renewal reads the time of its own attempt, not the first one's; a claim or a
release that cannot commit soon gives up; a closed store refuses calls."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google.api_core import exceptions as api_exceptions
from google.rpc import code_pb2

import lro
from lro._core import transitions
from lro._core.names import new_name
from lro._store.base import OperationRecord, WaitPlan
from lro._store.spanner import SpannerStore
from lro._store.urls import spanner_config
from lro.testing import FakeClock
from tests.conftest import fresh_spanner_url

START_US = 1_700_000_000 * 10**6
RETRY_AFTER = 20.0  # fake seconds between the aborted attempt and its retry
LEASE_US = 30 * 10**6
LIMIT = 30.0  # seconds: an outcome bound, far above the 5 s a claim or release is given


class _Abandoned(Exception):
    """Ends the first attempt's transaction without a commit."""


class AbortedOnce:
    """A Spanner database whose next read-write transaction, once ``arm`` is called,
    runs its work and is then aborted, as Spanner aborts a transaction that conflicts;
    the fake clock moves on before the retry."""

    def __init__(self, database: Any, clock: FakeClock) -> None:
        self._database = database
        self._clock = clock
        self._armed = threading.Event()
        self.aborted = 0

    def arm(self) -> None:
        self._armed.set()

    def run_in_transaction(self, work: Callable[[Any], object], **options: Any) -> Any:
        if not self._armed.is_set():
            return self._database.run_in_transaction(work, **options)
        self._armed.clear()

        def attempt_then_abandon(transaction: Any) -> None:
            work(transaction)
            raise _Abandoned  # rolled back: nothing of it is written

        with contextlib.suppress(_Abandoned):
            self._database.run_in_transaction(attempt_then_abandon)
        self.aborted += 1
        self._clock.advance(RETRY_AFTER)
        raise api_exceptions.Aborted("aborted by a conflicting transaction")  # type: ignore[no-untyped-call]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._database, name)


@pytest.fixture
def aborting(spanner_database: str) -> Iterator[tuple[SpannerStore, AbortedOnce, FakeClock]]:
    """A store on the emulator, on a fake clock, whose next transaction can be aborted."""
    clock = FakeClock(START_US)
    store = SpannerStore(spanner_config(fresh_spanner_url(spanner_database)), clock=clock)
    database = AbortedOnce(store._database, clock)
    store._database = database
    yield store, database, clock
    store.close()


def _schedule(store: SpannerStore, sleep_us: int) -> str:
    record = OperationRecord(operation=transitions.new_operation(new_name()))
    plan = WaitPlan(target_kind="handler", target="h", sleep_us=sleep_us)
    store.schedule(record, None, plan)
    return record.name


def test_a_retried_renewal_extends_the_lease_from_its_own_time(
    aborting: tuple[SpannerStore, AbortedOnce, FakeClock],
) -> None:
    store, database, clock = aborting
    name = _schedule(store, 0)
    (claimed,) = store.claim_wakeups("w", lease_us=LEASE_US, limit=1, handlers=["h"], pinned_to="")
    database.arm()
    retried_at_us = START_US + int(RETRY_AFTER * 10**6)
    assert store.renew_wakeups([claimed.lease_token], LEASE_US) == {claimed.lease_token}
    assert database.aborted == 1
    assert clock.now_us() == retried_at_us
    renewed = store.get_wakeup(name)
    assert renewed is not None
    assert renewed.lease_expires_us == retried_at_us + LEASE_US


def test_a_retried_claim_sees_what_is_due_by_its_own_time(
    aborting: tuple[SpannerStore, AbortedOnce, FakeClock],
) -> None:
    store, database, clock = aborting
    name = _schedule(store, int(RETRY_AFTER * 10**6 / 2))  # due between the two attempts
    database.arm()
    claimed = store.claim_wakeups("w", lease_us=LEASE_US, limit=1, handlers=["h"], pinned_to="")
    assert database.aborted == 1
    assert [wakeup.name for wakeup in claimed] == [name]
    assert claimed[0].lease_expires_us == clock.now_us() + LEASE_US
    stored = store.get_wakeup(name)
    assert stored is not None
    assert (stored.lease_token, stored.claims) == (claimed[0].lease_token, 1)


@pytest.fixture
def emulator_store(spanner_database: str) -> Iterator[SpannerStore]:
    """A store on the emulator, whose read-write transactions take turns (one at a time)."""
    store = SpannerStore(spanner_config(fresh_spanner_url(spanner_database)))
    assert store._transaction_lock is not None
    yield store
    store.close()


def _within_limit(call: Callable[[], object]) -> queue.Queue[object]:
    """What ``call`` returns or raises, if it ends within ``LIMIT`` seconds."""
    outcomes: queue.Queue[object] = queue.Queue()

    def run() -> None:
        try:
            outcomes.put(call())
        except Exception as error:
            outcomes.put(error)

    caller = threading.Thread(target=run, daemon=True)
    caller.start()
    caller.join(LIMIT)
    return outcomes


def test_a_claim_that_cannot_have_its_turn_gives_up_and_claims_nothing(
    emulator_store: SpannerStore,
) -> None:
    name = _schedule(emulator_store, 0)
    turn = emulator_store._transaction_lock
    assert turn is not None
    assert turn.acquire(timeout=LIMIT)
    try:
        outcomes = _within_limit(
            lambda: emulator_store.claim_wakeups(
                "w", lease_us=LEASE_US, limit=1, handlers=["h"], pinned_to=""
            )
        )
    finally:
        turn.release()
    assert outcomes.get_nowait() == []
    assert emulator_store.get_wakeup(name).claims == 0  # type: ignore[union-attr]


def test_a_release_that_cannot_have_its_turn_gives_up_with_an_error(
    emulator_store: SpannerStore,
) -> None:
    name = _schedule(emulator_store, 0)
    (claimed,) = emulator_store.claim_wakeups(
        "w", lease_us=LEASE_US, limit=1, handlers=["h"], pinned_to=""
    )
    turn = emulator_store._transaction_lock
    assert turn is not None
    assert turn.acquire(timeout=LIMIT)
    try:
        outcomes = _within_limit(lambda: emulator_store.release_wakeups([claimed.lease_token]))
    finally:
        turn.release()
    error = outcomes.get_nowait()
    assert isinstance(error, lro.Error)
    assert error.code == code_pb2.ABORTED
    assert emulator_store.get_wakeup(name).lease_token == claimed.lease_token  # type: ignore[union-attr]


def test_a_closed_store_refuses_calls_at_once(spanner_database: str) -> None:
    """A handler that runs past its worker's stop may call the store after the client
    closed: it gets an error at once (a query on a closed client may be retried by the
    client library without end, and then the process cannot exit)."""
    store = SpannerStore(spanner_config(fresh_spanner_url(spanner_database)))
    name = _schedule(store, 0)
    store.close()
    for call in (lambda: store.get_wakeup(name), lambda: store.renew_wakeups(["t"], LEASE_US)):
        error = _within_limit(call).get_nowait()
        assert isinstance(error, lro.Error)
        assert error.code == code_pb2.FAILED_PRECONDITION
