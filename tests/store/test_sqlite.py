"""What is particular to SQLite: pragmas, migrations, URLs, errors."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

import pytest

import lro
from lro._core import transitions
from lro._store.connectors.sqlite import SqliteConnector
from lro._store.queries import load_migrations
from lro._store.sql_store import SqliteStore
from lro._store.urls import open_store

EXPECTED_COLUMNS = [
    "name",
    "operation",
    "done",
    "error_code",
    "metadata_type",
    "state",
    "resume_point",
    "resume_target",
    "create_time_us",
    "update_time_us",
    "version",
    "attempts",
    "last_error",
    "wait_timed_out",
    "trace_context",
    "request_id",
]


def test_migrations_build_the_schema_the_code_expects(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "a.db").close()
    with sqlite3.connect(tmp_path / "a.db") as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(lro_operations)")]
        applied = [row[0] for row in connection.execute("SELECT number FROM lro_migrations")]
    assert columns == EXPECTED_COLUMNS
    assert applied == [number for number, _, _ in load_migrations("sqlite")]


def test_opening_twice_applies_migrations_once(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "a.db").close()
    SqliteStore(tmp_path / "a.db").close()
    with sqlite3.connect(tmp_path / "a.db") as connection:
        (count,) = connection.execute("SELECT count(*) FROM lro_migrations").fetchone()
    assert count == len(load_migrations("sqlite"))


@pytest.mark.parametrize(("option", "level"), [("", 2), ("?synchronous=NORMAL", 1)])
def test_wal_and_synchronous(tmp_path: Path, option: str, level: int) -> None:
    store = open_store(f"sqlite:///{tmp_path}/a.db{option}")
    assert isinstance(store, SqliteStore)
    with store.connector.connection() as connection:  # type: ignore[attr-defined]
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == level
    store.close()


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///",
        "sqlite://host/x.db",
        "sqlite:///x.db?synchronous=SOMETIMES",
        "sqlite:///x.db?busy_timeout_ms=soon",
        "sqlite:///x.db?change_poll_ms=often",
        "sqlite:///x.db?colour=blue",
        "mysql://user:secret@host/db",
    ],
)
def test_bad_urls_are_invalid_argument(url: str) -> None:
    with pytest.raises(lro.InvalidArgument) as caught:
        open_store(url)
    assert "secret" not in str(caught.value)


def test_unopenable_file_is_unavailable_and_the_path_only_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="lro.store"),
        pytest.raises(lro.Unavailable) as caught,
    ):
        SqliteStore(tmp_path / "no-such-dir" / "a.db")
    assert "no-such-dir" not in caught.value.message
    assert "no-such-dir" in caplog.text


def test_closed_store_is_unavailable(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db")
    store.close()
    with pytest.raises(lro.Unavailable):
        store.get("operations/a")


def test_changes_by_another_connection_wake_watchers(tmp_path: Path) -> None:
    writer = SqliteStore(tmp_path / "a.db")
    reader = SqliteStore(tmp_path / "a.db", change_poll_interval=0.01)
    heard: list[str] = []
    woken = threading.Event()

    def hear(name: str) -> None:
        heard.append(name)
        woken.set()

    try:
        watched = writer.create(_record("operations/watched"))
        writer.create(_record("operations/other"))
        with reader.changes.subscribe(["operations/watched"], hear):
            writer.update(watched.replace(state=b"1"), expected_version=1)
            assert woken.wait(5)
            woken.clear()
            writer.delete("operations/other")  # not watched: wakes nobody
            writer.delete("operations/watched")
            assert woken.wait(5)
        assert heard == ["operations/watched"] * 2
    finally:
        writer.close()
        reader.close()


def test_watching_can_be_turned_off(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/a.db?change_poll_ms=0")
    assert isinstance(store, SqliteStore)
    assert store.connector._watcher is None  # type: ignore[attr-defined]
    store.close()


def _record(name: str) -> lro.OperationRecord:
    return lro.OperationRecord(operation=transitions.new_operation(name))


def test_more_callers_than_connections_all_get_one(tmp_path: Path) -> None:
    """Twelve threads race for a pool of two: each call waits for a returned connection,
    none is lost, and no more than two are ever opened."""
    store = SqliteStore(tmp_path / "a.db", synchronous="OFF", max_connections=2)
    connector = store.connector
    assert isinstance(connector, SqliteConnector)
    threads, rounds = 12, 30
    barrier = threading.Barrier(threads)
    failures: list[BaseException] = []

    def race(index: int) -> None:
        try:
            barrier.wait()
            for round_ in range(rounds):
                record = store.create(_record(f"operations/{index}-{round_}"))
                store.update(record.replace(state=b"1"), expected_version=1)
                assert len(connector._opened) <= 2
        except BaseException as exc:  # reported below
            failures.append(exc)

    workers = [threading.Thread(target=race, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 60
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    try:
        assert not any(worker.is_alive() for worker in workers)  # no waiter left behind
        assert failures == []
        found = store.get_many(
            [f"operations/{i}-{r}" for i in range(threads) for r in range(rounds)]
        )
        assert len(found) == threads * rounds
        assert all(record.version == 2 for record in found.values())
    finally:
        store.close()


def test_a_closed_store_wakes_the_callers_waiting_for_a_connection(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db", max_connections=1)
    connector = store.connector
    assert isinstance(connector, SqliteConnector)
    outcome: list[BaseException] = []
    with connector.connection():  # the only connection, held
        waiting = threading.Thread(target=lambda: _get_into(store, outcome))
        waiting.start()
        time.sleep(0.2)  # long enough to be waiting; the outcome is the same either way
        store.close()
        waiting.join(10)
    assert not waiting.is_alive()
    assert [type(error) for error in outcome] == [lro.Unavailable]


def _get_into(store: lro.Store, outcome: list[BaseException]) -> None:
    try:
        store.get("operations/a")
    except BaseException as exc:  # reported by the test
        outcome.append(exc)
