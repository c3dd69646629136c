"""The PostgreSQL wake-up store on a real server, in the orders a race can take.

The store's own methods run; the test holds a second transaction open at the point
that matters, and goes on when PostgreSQL reports that one session waits for the
other's lock (``pg_blocking_pids``), or when the method has returned without waiting.
That is how the two orders of "a child finishes while its parent schedules its wait"
are forced, and how a claim is seen to skip a row that another claim holds.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest

from lro._core import transitions
from lro._core.names import new_name
from lro._resume.plan import wakeup_store
from lro._store.base import OperationRecord, WaitPlan, WakeupStore
from lro._store.urls import open_store
from tests.background import Background
from tests.conftest import fresh_postgres_url

CLAIM: dict[str, Any] = {"handlers": ["h"], "pinned_to": "", "lease_us": 10**7}
SLEEPER = WaitPlan(target_kind="handler", target="h")


@pytest.fixture
def store(postgres_database_url: str) -> Iterator[WakeupStore]:
    """A PostgreSQL store on a fresh schema."""
    opened = wakeup_store(open_store(fresh_postgres_url(postgres_database_url)))
    yield opened
    opened.close()


@pytest.fixture
def dsn(store: WakeupStore, postgres_database_url: str) -> str:
    """A connection string to the store's schema, for the test's own sessions."""
    schema = store.schema  # type: ignore[attr-defined]
    return f"{postgres_database_url}?options=-csearch_path%3D{schema}"


def _connect(dsn: str, *, autocommit: bool = True) -> Any:
    import psycopg

    return psycopg.connect(dsn, autocommit=autocommit, row_factory=psycopg.rows.dict_row)


def _created(store: WakeupStore) -> OperationRecord:
    return store.create(OperationRecord(operation=transitions.new_operation(new_name())))


def _finish(store: WakeupStore, record: OperationRecord) -> OperationRecord:
    finished = record.replace(operation=transitions.finish(record.operation))
    return store.update(finished, record.version)


def _waiting_for(children: list[OperationRecord]) -> WaitPlan:
    return WaitPlan(
        target_kind="handler",
        target="h",
        children=tuple(child.name for child in children),
        timeout_us=10**9,
    )


def _blocked(monitor: Any, count: int) -> bool:
    """Whether ``count`` sessions of this database wait for another session's lock."""
    row = monitor.execute(
        "SELECT count(*) AS blocked FROM pg_stat_activity"
        " WHERE datname = current_database() AND cardinality(pg_blocking_pids(pid)) > 0"
    ).fetchone()
    return int(row["blocked"]) >= count


def _until_blocked_or_returned(monitor: Any, calls: list[Background[Any]], blocked: int) -> bool:
    """Wait until ``blocked`` sessions wait for a lock (True) or the last call ended."""
    deadline = time.monotonic() + 30
    while not calls[-1].returned:
        if _blocked(monitor, blocked):
            return True
        assert time.monotonic() < deadline, "neither blocked nor returned"
        time.sleep(0.01)
    return False


def test_triggers_make_a_wait_due_and_clean_up_after_it(store: WakeupStore, dsn: str) -> None:
    children = [_created(store), _created(store)]
    parent = _created(store)
    _, scheduled = store.schedule(parent, 1, _waiting_for(children))
    assert scheduled.due_time_us == scheduled.deadline_us
    _finish(store, children[0])
    assert store.get_wakeup(parent.name) == scheduled  # one child still runs
    _finish(store, children[1])
    due = store.get_wakeup(parent.name)
    assert due is not None
    assert due.due_time_us == scheduled.ready_time_us
    (claimed,) = store.claim_wakeups("a", limit=5, **CLAIM)
    stale = dataclasses.replace(claimed, lease_token="another-lease")  # noqa: S106
    assert not store.finish_wakeup(stale)
    assert store.record_failure(claimed, "UNKNOWN: x", None) is not None
    _finish(store, store.get(parent.name))  # finishing removes the wake-up and its children
    assert store.get_wakeup(parent.name) is None
    with _connect(dsn) as connection:
        left = connection.execute("SELECT count(*) AS n FROM lro_wakeup_children").fetchone()
    assert left["n"] == 0


def test_a_parent_scheduling_while_its_child_finishes_waits_and_sees_it_done(
    store: WakeupStore, dsn: str
) -> None:
    child, parent = _created(store), _created(store)
    with _connect(dsn) as monitor, _connect(dsn, autocommit=False) as finishing:
        # Another process is finishing the child: its transaction is open, its trigger
        # has run (no wait existed yet), and it has not committed.
        finishing.execute("UPDATE lro_operations SET done = TRUE WHERE name = %s", (child.name,))
        scheduling = Background(lambda: store.schedule(parent, 1, _waiting_for([child])))
        waited = _until_blocked_or_returned(monitor, [scheduling], 1)
        finishing.commit()
    scheduling.join()
    assert waited, "scheduling did not wait for the finish in flight"
    assert scheduling.error is None
    assert scheduling.result is not None
    _, wakeup = scheduling.result
    assert wakeup.due_time_us == wakeup.ready_time_us  # it saw the child done


def test_a_child_finishing_while_its_parent_schedules_waits_and_wakes_it(
    store: WakeupStore, dsn: str
) -> None:
    child, parent = _created(store), _created(store)
    parent, _ = store.schedule(parent, 1, SLEEPER)  # an earlier wake-up of the parent
    with _connect(dsn) as monitor, _connect(dsn, autocommit=False) as holder:
        # Hold the parent's wake-up row: scheduling stops at its upsert, after it has
        # looked at the child, with its transaction open.
        holder.execute("SELECT 1 FROM lro_wakeups WHERE name = %s FOR UPDATE", (parent.name,))
        scheduling = Background(
            lambda: store.schedule(parent, parent.version, _waiting_for([child]))
        )
        assert _until_blocked_or_returned(monitor, [scheduling], 1)
        finishing = Background(lambda: _finish(store, child))
        waited = _until_blocked_or_returned(monitor, [scheduling, finishing], 2)
        holder.rollback()
    scheduling.join()
    finishing.join()
    assert (scheduling.error, finishing.error) == (None, None)
    assert waited, "the finish did not wait for the scheduling in flight"
    wakeup = store.get_wakeup(parent.name)
    assert wakeup is not None
    assert wakeup.due_time_us == wakeup.ready_time_us  # the finish's trigger saw the wait


def test_a_claim_skips_a_row_another_claim_holds(store: WakeupStore, dsn: str) -> None:
    held, _ = store.schedule(_created(store), 1, SLEEPER)
    free, _ = store.schedule(_created(store), 1, SLEEPER)
    with _connect(dsn) as monitor, _connect(dsn, autocommit=False) as other_claim:
        other_claim.execute("SELECT 1 FROM lro_wakeups WHERE name = %s FOR UPDATE", (held.name,))
        claim = Background(lambda: store.claim_wakeups("w", limit=10, **CLAIM))
        waited = _until_blocked_or_returned(monitor, [claim], 1)
        other_claim.rollback()
    claim.join()
    assert not waited, "the claim waited for a row another claim holds"
    assert claim.result is not None
    assert [wakeup.name for wakeup in claim.result] == [free.name]


def test_children_finishing_at_once_make_the_wait_due(store: WakeupStore, dsn: str) -> None:
    children = [_created(store), _created(store)]
    parent, _ = store.schedule(_created(store), 1, _waiting_for(children))
    with _connect(dsn) as monitor, _connect(dsn, autocommit=False) as first:
        # The first child's finish is in flight (its trigger has run, no commit yet)
        # while the second finishes: neither sees the other committed.
        first.execute(
            "UPDATE lro_operations SET done = TRUE, version = version + 1 WHERE name = %s",
            (children[0].name,),
        )
        second = Background(lambda: _finish(store, children[1]))
        _until_blocked_or_returned(monitor, [second], 1)
        first.commit()
    second.join()
    assert second.error is None
    wakeup = store.get_wakeup(parent.name)
    assert wakeup is not None
    assert wakeup.due_time_us == wakeup.ready_time_us  # the last finish made it due


def test_a_wait_without_a_count_is_due_at_its_first_finish(store: WakeupStore, dsn: str) -> None:
    # A wake-up written before running_children existed counts 0: it becomes due early,
    # and the worker polls its children; it is never late.
    children = [_created(store), _created(store)]
    parent, scheduled = store.schedule(_created(store), 1, _waiting_for(children))
    with _connect(dsn) as connection:
        connection.execute(
            "UPDATE lro_wakeups SET running_children = 0 WHERE name = %s", (parent.name,)
        )
    _finish(store, children[0])
    wakeup = store.get_wakeup(parent.name)
    assert wakeup is not None
    assert wakeup.due_time_us == scheduled.ready_time_us
