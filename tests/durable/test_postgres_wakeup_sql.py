"""The PostgreSQL wake-up SQL on a real server, statement by statement: triggers, lease
tokens, SKIP LOCKED, and no child finish missed while a parent schedules its wait (the
two orders of a race that the store-level tests cannot force).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from lro._store.queries import load_queries
from lro._store.urls import open_store
from tests.conftest import fresh_postgres_url

psycopg: Any = pytest.importorskip("psycopg", reason="the PostgreSQL driver is not installed")
QUERIES = load_queries("postgresql", "wakeups.sql")
CLAIM = {"handlers": ["h"], "pinned_to": "", "lease_us": 10**7}


@pytest.fixture
def dsn(postgres_database_url: str) -> str:
    """A connection string to a fresh schema, migrated by the PostgreSQL store."""
    store = open_store(fresh_postgres_url(postgres_database_url))
    schema = store.schema  # type: ignore[attr-defined]
    store.close()
    return f"{postgres_database_url}?options=-csearch_path%3D{schema}"


def _connect(dsn: str) -> Any:
    return psycopg.connect(dsn, autocommit=True, row_factory=psycopg.rows.dict_row)


def _operation(connection: Any, name: str) -> None:
    connection.execute(
        "INSERT INTO lro_operations (name, operation, create_time_us, update_time_us, version)"
        " VALUES (%s, ''::BYTEA, 0, 0, 1)",
        (name,),
    )


def _values(connection: Any, name: str, children: list[str], sleep_us: int) -> dict[str, Any]:
    now = connection.execute(QUERIES["now_us"]).fetchone()["now_us"]
    return {
        "name": name,
        "ready_time_us": now + sleep_us,
        "deadline_us": now + sleep_us + 10**9,
        "due_time_us": now + sleep_us,
        "children": children,
        "child_endpoint": "",
        "poll_frequency_us": 1,
        "target_kind": "handler",
        "target": "h",
        "target_endpoint": "",
        "pinned_to": "",
        "schedule_time_us": now,
        "running_children": 0,
    }


def _schedule(connection: Any, name: str, children: list[str], sleep_us: int = 0) -> Any:
    with connection.transaction():
        row = connection.execute(QUERIES["lock_running_children"], {"children": children})
        values = _values(connection, name, children, sleep_us)
        if running := row.fetchone()["running"]:
            values.update(due_time_us=values["deadline_us"], running_children=running)
        connection.execute(QUERIES["forget_children"], values)
        wakeup = connection.execute(QUERIES["upsert_wakeup"], values).fetchone()
        connection.execute(QUERIES["remember_children"], values)
    return wakeup


def _finish(connection: Any, name: str) -> None:
    connection.execute("UPDATE lro_operations SET done = TRUE WHERE name = %s", (name,))


def _finish_in_own_connection(dsn: str) -> None:
    with _connect(dsn) as connection:
        _finish(connection, "operations/c2")


def _wakeup(connection: Any, name: str) -> Any:
    return connection.execute(QUERIES["get_wakeup"], {"name": name}).fetchone()


def test_children_tokens_and_triggers(dsn: str) -> None:
    with _connect(dsn) as connection:
        for name in ("operations/c1", "operations/c2", "operations/p"):
            _operation(connection, name)
        scheduled = _schedule(connection, "operations/p", ["operations/c1", "operations/c2"])
        assert scheduled["due_time_us"] == scheduled["deadline_us"]
        _finish(connection, "operations/c1")
        assert _wakeup(connection, "operations/p")["due_time_us"] == scheduled["deadline_us"]
        _finish(connection, "operations/c2")
        assert _wakeup(connection, "operations/p")["due_time_us"] == scheduled["ready_time_us"]
        (claimed,) = connection.execute(
            QUERIES["claim_wakeups"], {**CLAIM, "owner": "a", "limit": 5}
        ).fetchall()
        key = {"name": "operations/p", "lease_token": claimed["lease_token"]}
        assert (
            connection.execute(QUERIES["finish_wakeup"], {**key, "lease_token": "x"}).rowcount == 0
        )
        counted = connection.execute(QUERIES["count_failure"], {**key, "last_error": "UNKNOWN: x"})
        assert counted.rowcount == 1
        _finish(connection, "operations/p")  # finishing removes the wake-up and its children
        assert _wakeup(connection, "operations/p") is None
        left = connection.execute("SELECT count(*) AS n FROM lro_wakeup_children").fetchone()
        assert left["n"] == 0


def test_concurrent_claims_lease_each_row_once(dsn: str) -> None:
    with _connect(dsn) as connection:
        for index in range(400):
            _operation(connection, f"operations/x{index}")
            _schedule(connection, f"operations/x{index}", [])
    claimed: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def claimer(owner: str) -> None:
        with _connect(dsn) as connection:
            start.wait()
            while rows := connection.execute(
                QUERIES["claim_wakeups"], {**CLAIM, "owner": owner, "limit": 7}
            ).fetchall():
                with lock:
                    claimed.extend(row["name"] for row in rows)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(f"operations/x{index}" for index in range(400))


def test_a_child_finished_while_its_parent_schedules_is_not_missed(dsn: str) -> None:
    with _connect(dsn) as connection:
        for name in ("operations/c", "operations/p", "operations/c2", "operations/p2"):
            _operation(connection, name)
        # The child's finish is in flight: scheduling waits for it, then sees it done.
        finishing = psycopg.connect(dsn)
        _finish(finishing, "operations/c")
        result: dict[str, Any] = {}

        def schedule_parent() -> None:
            with _connect(dsn) as other:
                result["w"] = _schedule(other, "operations/p", ["operations/c"])

        parent = threading.Thread(target=schedule_parent)
        parent.start()
        time.sleep(0.2)
        assert parent.is_alive()
        finishing.commit()
        finishing.close()
        parent.join()
        assert result["w"]["due_time_us"] == result["w"]["ready_time_us"]
        # The parent schedules first: the finish waits for it, and its trigger sees the wait.
        scheduling = _connect(dsn)
        with scheduling.transaction():
            scheduled = _schedule(scheduling, "operations/p2", ["operations/c2"])
            finisher = threading.Thread(target=_finish_in_own_connection, args=(dsn,))
            finisher.start()
            time.sleep(0.2)
            assert finisher.is_alive()
        finisher.join()
        scheduling.close()
        assert scheduled["due_time_us"] == scheduled["deadline_us"]
        assert _wakeup(connection, "operations/p2")["due_time_us"] == scheduled["ready_time_us"]


def test_children_finishing_at_once_make_the_wait_due(dsn: str) -> None:
    # Each finish is in flight while the other runs: neither sees the other committed.
    with _connect(dsn) as connection:
        for name in ("operations/c1", "operations/c2", "operations/p"):
            _operation(connection, name)
        scheduled = _schedule(connection, "operations/p", ["operations/c1", "operations/c2"])
        first = psycopg.connect(dsn)
        _finish(first, "operations/c1")
        second = threading.Thread(target=_finish_in_own_connection, args=(dsn,))
        second.start()
        second.join(0.2)  # it waits for the first finish's lock on the wake-up
        first.commit()
        first.close()
        second.join()
        assert _wakeup(connection, "operations/p")["due_time_us"] == scheduled["ready_time_us"]


def test_a_wait_without_a_count_is_due_at_its_first_finish(dsn: str) -> None:
    # A wake-up written before running_children existed counts 0: it becomes due early,
    # and the worker polls its children; it is never late.
    with _connect(dsn) as connection:
        for name in ("operations/c1", "operations/c2", "operations/p"):
            _operation(connection, name)
        values = _values(connection, "operations/p", ["operations/c1", "operations/c2"], 0)
        values["due_time_us"] = values["deadline_us"]
        connection.execute(QUERIES["upsert_wakeup"], values)
        connection.execute(QUERIES["remember_children"], values)
        _finish(connection, "operations/c1")
        assert _wakeup(connection, "operations/p")["due_time_us"] == values["ready_time_us"]
