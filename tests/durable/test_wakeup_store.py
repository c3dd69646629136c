"""The wake-up verbs of the store: atomic scheduling, exclusive leases, one-query claims."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import lro
from lro._core import transitions
from lro._core.names import new_name
from lro._resume.plan import wakeup_store
from lro._store.base import OperationRecord, StaleVersion, WaitPlan, Wakeup, WakeupStore
from lro._store.connectors.sqlite import SqliteConnector
from lro._store.spanner import SpannerStore
from lro._store.sql_store import SqlStore
from lro._store.urls import open_store, spanner_config
from tests.conftest import fresh_spanner_url
from tests.durable.conftest import eventually

SLEEPER = WaitPlan(target_kind="handler", target="h")
CLAIM = {"handlers": ["h"], "pinned_to": ""}


@pytest.fixture
def store(store_url: str) -> Iterator[WakeupStore]:
    """An empty store on each backend, with its wake-up verbs."""
    opened = wakeup_store(open_store(store_url))
    yield opened
    opened.close()


def _new(store: WakeupStore, plan: WaitPlan = SLEEPER) -> tuple[OperationRecord, Wakeup]:
    record = OperationRecord(operation=transitions.new_operation(new_name()))
    return store.schedule(record, None, plan)


def _claim(
    store: WakeupStore, owner: str = "w", lease_us: int = 10**7, limit: int = 100
) -> list[Wakeup]:
    return store.claim_wakeups(owner, lease_us=lease_us, limit=limit, **CLAIM)  # type: ignore[arg-type]


def test_schedule_writes_the_record_and_the_wakeup_together(store: WakeupStore) -> None:
    record, wakeup = _new(store)
    changed = record.replace(resume_point="p", state=b"{}")
    store.update(record.replace(resume_point="other"), expected_version=1)
    with pytest.raises(StaleVersion):
        store.schedule(changed, 1, WaitPlan(target_kind="handler", target="h", sleep_us=10**9))
    # The lost compare-and-set left the wake-up as it was.
    assert store.get_wakeup(record.name) == wakeup
    assert store.get(record.name).resume_point == "other"
    with pytest.raises(lro.AlreadyExists):
        store.schedule(record, None, SLEEPER)
    with pytest.raises(lro.NotFound):
        store.schedule(
            record.replace(operation=transitions.new_operation("operations/x")), 1, SLEEPER
        )
    assert store.get_wakeup("operations/x") is None


def test_a_claim_leases_each_ready_wakeup_to_one_worker(store: WakeupStore) -> None:
    names = {_new(store)[0].name for _ in range(200)}
    claimed: list[list[Wakeup]] = []
    start = threading.Barrier(8)
    first_round = threading.Barrier(8)

    def claimer(owner: str) -> None:
        start.wait()
        # Every thread claims once before any claims again (8 x 7 < 200 rows), so all
        # eight take part however the threads are scheduled.
        mine = _claim(store, owner, limit=7)
        first_round.wait()
        while batch := _claim(store, owner, limit=7):
            mine.extend(batch)
        claimed.append(mine)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    all_claims = [w.name for mine in claimed for w in mine]
    assert sorted(all_claims) == sorted(names)  # each exactly once
    assert len(claimed) == 8
    assert all(claimed)


def test_an_expired_lease_passes_to_another_worker(store: WakeupStore) -> None:
    record, _ = _new(store)
    (first,) = _claim(store, "dead", lease_us=500_000)
    assert _claim(store, "other") == []
    assert store.renew_wakeups([first.lease_token], 500_000) == {first.lease_token}
    assert eventually(lambda: bool(_claim(store, "other")))
    second = store.get_wakeup(record.name)
    assert second is not None
    assert (second.lease_owner, second.claims) == ("other", 2)
    # The first holder can no longer change or remove it.
    assert store.renew_wakeups([first.lease_token], 10**7) == set()
    assert not store.postpone_wakeup(first, 0)
    assert store.record_failure(first, "late", None) is None
    assert not store.finish_wakeup(first)
    assert store.finish_wakeup(second)
    assert store.get_wakeup(record.name) is None


def test_only_due_and_finished_waits_are_claimed(store: WakeupStore) -> None:
    child, _ = _new(store, WaitPlan(target_kind="handler", target="h", sleep_us=10**9))
    waiting, _ = _new(
        store,
        WaitPlan(target_kind="handler", target="h", children=(child.name,), timeout_us=10**9),
    )
    assert _claim(store) == []
    store.update(child.replace(operation=transitions.finish(child.operation)), 1)
    assert [w.name for w in _claim(store)] == [waiting.name]


def test_the_last_child_makes_a_wait_due_but_not_before_its_sleep(store: WakeupStore) -> None:
    children = [_new(store, WaitPlan(target_kind="grpc", target="x", sleep_us=10**9))[0]]
    children.append(_new(store, WaitPlan(target_kind="grpc", target="x", sleep_us=10**9))[0])
    plan = WaitPlan(
        target_kind="handler",
        target="h",
        sleep_us=3_000_000,  # longer than the writes below take on a loaded emulator
        children=tuple(c.name for c in children),
        timeout_us=10**9,
    )
    waiting, scheduled = _new(store, plan)
    assert scheduled.due_time_us == scheduled.deadline_us
    store.update(children[0].replace(operation=transitions.finish(children[0].operation)), 1)
    assert store.get_wakeup(waiting.name) == scheduled  # one child is still running
    store.update(children[1].replace(operation=transitions.cancel(children[1].operation)), 1)
    due = store.get_wakeup(waiting.name)
    assert due is not None
    assert due.due_time_us == scheduled.ready_time_us  # the end of its sleep
    assert _claim(store) == []
    assert eventually(lambda: [w.name for w in _claim(store)] == [waiting.name], timeout=30)


def test_a_passed_deadline_makes_a_wait_ready(store: WakeupStore) -> None:
    child, _ = _new(store, WaitPlan(target_kind="handler", target="h", sleep_us=10**9))
    waiting, _ = _new(
        store,
        WaitPlan(target_kind="handler", target="h", children=(child.name,), timeout_us=50_000),
    )
    assert _claim(store) == []
    assert eventually(lambda: [w.name for w in _claim(store)] == [waiting.name])


def test_claims_respect_handler_names_and_pinning(store: WakeupStore) -> None:
    other, _ = _new(store, WaitPlan(target_kind="handler", target="elsewhere"))
    pinned, _ = _new(store, WaitPlan(target_kind="callback", target="x", pinned_to="me"))
    grpc_call, _ = _new(store, WaitPlan(target_kind="grpc", target="/a.B/C", target_endpoint="h:1"))
    assert [w.name for w in _claim(store)] == [grpc_call.name]
    mine = store.claim_wakeups(
        "w", lease_us=10**7, limit=10, handlers=["elsewhere"], pinned_to="me"
    )
    assert {w.name for w in mine} == {other.name, pinned.name}


def test_postpone_release_and_failures(store: WakeupStore) -> None:
    record, _ = _new(store)
    (claimed,) = _claim(store)
    counted = store.record_failure(claimed, "UNKNOWN: boom", 10**9)
    assert counted is not None
    assert (counted.attempts, counted.last_error, counted.version) == (1, "UNKNOWN: boom", 2)
    with pytest.raises(StaleVersion):  # the count is a real write: stale copies lose
        store.update(record.replace(resume_point="x"), expected_version=1)
    assert _claim(store) == []  # postponed by 1000 s
    _new(store)
    (again,) = _claim(store)
    assert store.release_wakeups([again.lease_token]) == 1
    assert [w.name for w in _claim(store)] == [again.name]


def test_a_claim_is_one_statement_however_many_wait(tmp_path: Path) -> None:
    statements: list[str] = []

    class TracedConnector(SqliteConnector):
        def _connect(self) -> sqlite3.Connection:
            connection = super()._connect()
            connection.set_trace_callback(statements.append)
            return connection

    store = SqlStore(TracedConnector(tmp_path / "traced.db", synchronous="OFF"))
    child, _ = _new(store, WaitPlan(target_kind="handler", target="h", sleep_us=10**9))
    for _ in range(300):
        _new(
            store,
            WaitPlan(target_kind="handler", target="h", children=(child.name,), timeout_us=10**9),
        )
    statements.clear()
    assert _claim(store) == []
    assert len(statements) == 1
    assert statements[0].lstrip().startswith(("UPDATE", "-- One statement"))
    store.close()


def test_a_spanner_claim_is_one_query_plus_mutations(spanner_database: str) -> None:
    calls: list[str] = []

    class Recorder:
        """A read-write transaction that notes each method used on it."""

        def __init__(self, transaction: Any) -> None:
            self._transaction = transaction

        def __getattr__(self, name: str) -> Any:
            calls.append(name)
            return getattr(self._transaction, name)

    class TracedStore(SpannerStore):
        def _run_in_transaction(
            self, work: Callable[[Any], object], within: float | None = None
        ) -> Any:
            return super()._run_in_transaction(
                lambda transaction: work(Recorder(transaction)), within
            )

    store = TracedStore(spanner_config(fresh_spanner_url(spanner_database)))
    child, _ = _new(store, WaitPlan(target_kind="handler", target="h", sleep_us=10**9))
    for _ in range(50):
        _new(
            store,
            WaitPlan(target_kind="handler", target="h", children=(child.name,), timeout_us=10**9),
        )
    ready, _ = _new(store)
    calls.clear()
    assert [w.name for w in _claim(store)] == [ready.name]
    assert calls == ["execute_sql", "update"]  # the query, then the leases as mutations
    calls.clear()
    assert _claim(store) == []
    assert calls == ["execute_sql"]
    store.close()


def test_finishing_or_deleting_an_operation_removes_its_wakeup(store: WakeupStore) -> None:
    finished, _ = _new(store)
    deleted, _ = _new(store)
    kept, _ = _new(store)
    store.update(finished.replace(operation=transitions.finish(finished.operation)), 1)
    store.delete(deleted.name)
    assert store.get_wakeup(finished.name) is None
    assert store.get_wakeup(deleted.name) is None
    assert store.get_wakeup(kept.name) is not None
    assert [w.name for w in _claim(store)] == [kept.name]
