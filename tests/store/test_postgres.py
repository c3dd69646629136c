"""What is particular to PostgreSQL: migrations, URLs, errors, notifications."""

from __future__ import annotations

import logging
import os
import resource
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from google.rpc import code_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

import lro
from lro._core import transitions
from lro._store.base import OperationRecord
from lro._store.connectors.postgresql import PostgresConnector, postgres_code
from lro._store.postgres_settings import parse_postgres_url, redact
from lro._store.queries import load_migrations
from lro._store.sql_store import PostgresStore
from lro._store.urls import open_store
from tests.conftest import fresh_postgres_url, skip_or_fail
from tests.store.test_sqlite import EXPECTED_COLUMNS


@pytest.fixture
def url(postgres_database_url: str) -> str:
    """A URL of an empty store (a fresh schema)."""
    return fresh_postgres_url(postgres_database_url)


@pytest.fixture
def store(url: str) -> Iterator[PostgresStore]:
    """An empty PostgreSQL store."""
    opened = open_store(url)
    assert isinstance(opened, PostgresStore)
    yield opened
    opened.close()


def _connector(store: lro.Store) -> PostgresConnector:
    assert isinstance(store, PostgresStore)
    assert isinstance(store.connector, PostgresConnector)
    return store.connector


def _listener_pid(store: PostgresStore) -> int | None:
    listener = _connector(store)._listener
    assert listener is not None
    return listener.backend_pid


def _record(name: str) -> OperationRecord:
    return OperationRecord(operation=transitions.new_operation(name))


def _query(database_url: str, query: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        cursor = connection.execute(query.encode(), params or None)
        return cursor.fetchall() if cursor.description is not None else []


def test_migrations_build_the_schema_the_code_expects(
    store: PostgresStore, postgres_database_url: str
) -> None:
    columns = _query(
        postgres_database_url,
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = 'lro_operations' ORDER BY ordinal_position",
        _connector(store).schema,
    )
    applied = _query(
        postgres_database_url,
        f"SELECT number FROM {_connector(store).schema}.lro_migrations ORDER BY 1",
    )
    triggers = _query(
        postgres_database_url,
        "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND NOT t.tgisinternal",
        _connector(store).schema,
    )
    # Migration 0002 adds the listing's collection, 0003 the resumer's columns, 0005 the
    # trace context, 0006 the request id.
    base, resumer = EXPECTED_COLUMNS[:11], EXPECTED_COLUMNS[11:]
    assert [column for (column,) in columns] == [*base, "collection", *resumer]
    assert [number for (number,) in applied] == [n for n, _, _ in load_migrations("postgresql")]
    assert sorted(triggers) == [
        ("lro_operations_forget_wakeup",),
        ("lro_operations_notify_created_done",),
        ("lro_operations_notify_deleted",),
        ("lro_operations_notify_finished",),
        ("lro_operations_wake_parents",),
        ("lro_wakeups_forget_children",),
    ]


def test_stores_opened_together_migrate_once(url: str, postgres_database_url: str) -> None:
    stores: list[lro.Store] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_one() -> None:
        barrier.wait()
        try:
            stores.append(open_store(url))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in stores:
        opened.close()
    assert errors == []
    schema = parse_postgres_url(url).schema
    (count,) = _query(postgres_database_url, f"SELECT count(*) FROM {schema}.lro_migrations")
    assert count == (len(load_migrations("postgresql")),)


def test_finishing_or_deleting_in_one_store_wakes_the_other(url: str) -> None:
    with lro.Client(url) as first, lro.Client(url) as second:
        heard_by_second: list[str] = []
        heard_by_first: list[str] = []
        heard = threading.Event()

        def hear(name: str) -> None:
            heard_by_second.append(name)
            heard.set()

        watched = ["operations/a", "operations/b"]
        with (
            second.store.changes.subscribe(watched, hear),
            first.store.changes.subscribe(watched, heard_by_first.append),
        ):
            created = first.store.create(_record("operations/a"))
            progressed = first.store.update(created.replace(state=b"1"), expected_version=1)
            finished = progressed.replace(operation=transitions.finish(progressed.operation))
            first.store.update(finished, expected_version=2)
            assert heard.wait(10)
            heard.clear()
            second.new_operation()  # a change nobody here waits for
            first.store.create(_record("operations/b"))
            first.store.delete("operations/a")  # done: its waiters returned already
            first.store.delete("operations/b")  # running: its waiters must hear it
            assert heard.wait(10)
        # Other processes hear what ends a wait: the finish and the delete of a running
        # operation, not progress, nor the delete of a done one (migration 0007: a purge
        # of a million done operations would NOTIFY a million times).
        assert heard_by_second == ["operations/a", "operations/b"]
        # Its own changes, each once: local publishes, not echoed back by the listener.
        assert heard_by_first == ["operations/a"] * 3 + [
            "operations/b",
            "operations/a",
            "operations/b",
        ]


def test_listener_reconnects_and_asks_waiters_to_read_again(
    store: PostgresStore, postgres_database_url: str, url: str
) -> None:
    changed: list[str] = []
    republished = threading.Event()

    def hear(name: str) -> None:
        changed.append(name)
        republished.set()

    first_pid = _listener_pid(store)
    with store.changes.subscribe(["operations/watched"], hear):
        _query(postgres_database_url, "SELECT pg_terminate_backend(%s)", first_pid)
        # Nothing changed, but notifications may have been missed: waiters re-read.
        assert republished.wait(10)
        assert changed == ["operations/watched"]
        assert _listener_pid(store) not in (None, first_pid)
        republished.clear()
        with lro.Client(url) as other:
            other.store.create(_record("operations/watched"))
            other.store.delete("operations/watched")
        assert republished.wait(10)  # the new connection listens


def test_store_calls_survive_lost_pooled_connections(
    store: PostgresStore, postgres_database_url: str
) -> None:
    store.create(_record("operations/a"))
    others = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND pid <> %s"
    )
    ended = _query(
        postgres_database_url,
        f"SELECT pg_terminate_backend(pid) FROM ({others}) AS o",
        _listener_pid(store),
    )
    assert ended
    for _ in range(100):  # until those server processes are gone
        if not _query(postgres_database_url, others, _listener_pid(store)):
            break
        time.sleep(0.05)
    assert store.get("operations/a").name == "operations/a"


def test_url_options(postgres_database_url: str) -> None:
    settings = parse_postgres_url(
        f"{postgres_database_url}?schema=s1&pool_max_size=3&pool_timeout=2.5&sslmode=disable"
    )
    assert settings.schema == "s1"
    assert settings.pool_max_size == 3
    assert settings.pool_timeout == 2.5
    assert settings.conninfo == f"{postgres_database_url}?sslmode=disable"
    store = open_store(f"postgres{postgres_database_url.removeprefix('postgresql')}")
    assert isinstance(store, PostgresStore)
    store.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user:secret@127.0.0.1/db?schema=Bad-Name",
        "postgresql://user:secret@127.0.0.1/db?pool_max_size=0",
        "postgresql://user:secret@127.0.0.1/db?pool_max_size=many",
        "postgresql://user:secret@127.0.0.1/db?pool_timeout=-1",
        "postgresql://user:secret@127.0.0.1/db?colour=blue",
        "postgresql://user:secret%zz@127.0.0.1/db",
    ],
)
def test_bad_urls_are_invalid_argument_without_the_password(url: str) -> None:
    with pytest.raises(lro.InvalidArgument) as caught:
        open_store(url)
    assert "secret" not in str(caught.value)


def test_unreachable_server_is_unavailable_the_cause_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="lro.store"),
        pytest.raises(lro.Unavailable) as caught,
    ):
        open_store("postgresql://postgres:secret@127.0.0.1:1/postgres")
    message = str(caught.value)
    assert "127.0.0.1" not in message
    assert "secret" not in message
    assert "127.0.0.1" in caplog.text
    assert "refused" in caplog.text.lower()
    assert "secret" not in caplog.text


def test_wrong_database_is_named_in_the_log(
    postgres_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    base = postgres_database_url.rsplit("/", 1)[0]
    with caplog.at_level(logging.WARNING, logger="lro.store"), pytest.raises(lro.Unavailable):
        open_store(f"{base}/lro_no_such_database")
    assert "lro_no_such_database" in caplog.text


def test_repr_and_messages_hide_the_password(postgres_database_url: str) -> None:
    conninfo = "postgresql://postgres:hunter2@127.0.0.1:5432/postgres"
    assert redact(f"failed for {conninfo}", conninfo) == (
        "failed for postgresql://postgres:***@127.0.0.1:5432/postgres"
    )
    assert redact("password=hunter2 host=x", "password=hunter2 host=x") == "password=*** host=x"
    store = PostgresStore(postgres_database_url, schema="t_repr")
    try:
        assert "schema=t_repr" in repr(store)
    finally:
        store.close()


def test_closed_store_is_unavailable(store: PostgresStore) -> None:
    store.close()
    with pytest.raises(lro.Unavailable):
        store.get("operations/a")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (psycopg.errors.SerializationFailure("x"), code_pb2.ABORTED),
        (psycopg.errors.DeadlockDetected("x"), code_pb2.ABORTED),
        (psycopg.errors.QueryCanceled("x"), code_pb2.DEADLINE_EXCEEDED),
        (psycopg.errors.AdminShutdown("x"), code_pb2.UNAVAILABLE),
        (psycopg.errors.TooManyConnections("x"), code_pb2.UNAVAILABLE),
        (psycopg.OperationalError("x"), code_pb2.UNAVAILABLE),
        (psycopg.errors.InsufficientPrivilege("x"), code_pb2.PERMISSION_DENIED),
        (psycopg.errors.CannotConnectNow("x"), code_pb2.UNAVAILABLE),
        (psycopg.errors.UniqueViolation("x"), code_pb2.ALREADY_EXISTS),
        (psycopg.errors.DataCorrupted("x"), code_pb2.DATA_LOSS),
        (psycopg.errors.InvalidTextRepresentation("x"), code_pb2.INVALID_ARGUMENT),
        (psycopg.errors.InvalidPassword("x"), code_pb2.UNAUTHENTICATED),
        (psycopg.errors.UndefinedTable("x"), code_pb2.INTERNAL),
    ],
)
def test_driver_errors_map_by_sqlstate(error: psycopg.Error, code: int) -> None:
    assert postgres_code(error) == code


def test_without_the_driver_the_url_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lro._store.connectors.postgresql", None)
    with pytest.raises(lro.FailedPrecondition, match=r"lro\[postgres\]"):
        open_store("postgresql://postgres@127.0.0.1/postgres")


# The marker keeps a password from being a piece of a message's own words ("sche").
@given(
    password=st.text(alphabet=st.characters(codec="utf-8"), min_size=3, max_size=20).map(
        "\u2603".__add__
    )
)
@settings(max_examples=60, deadline=None)
def test_no_message_shows_the_password(password: str) -> None:
    quoted = quote(password, safe="")
    for url in (
        f"postgresql://user:{quoted}@127.0.0.1/db?pool_max_size=x",
        f"postgresql://user:{quoted}@127.0.0.1/db?schema=Bad",
        f"postgresql://user:{quoted}%zz@127.0.0.1/db",
    ):
        with pytest.raises(lro.InvalidArgument) as caught:
            open_store(url)
        assert password not in str(caught.value)
        assert quoted not in str(caught.value)


def test_a_call_that_finds_no_free_connection_is_unavailable(postgres_database_url: str) -> None:
    store = open_store(
        f"{fresh_postgres_url(postgres_database_url)}&pool_max_size=1&pool_timeout=0.5"
    )
    assert isinstance(store, PostgresStore)
    try:
        with (
            _connector(store).connection(),
            pytest.raises(lro.Unavailable, match=r"no free connection within 0\.5s"),
        ):
            store.get("operations/a")
        with pytest.raises(lro.NotFound):
            store.get("operations/a")  # free again
    finally:
        store.close()


def test_lro_works_without_the_driver(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "sys.modules['psycopg'] = None  # as if lro[postgres] were not installed\n"
        "import lro\n"
        f"with lro.Client('sqlite:///{tmp_path}/a.db') as client:\n"
        "    client.new_operation().done()\n"
        "try:\n"
        "    lro.PostgresStore\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'lro[postgres]'" in result.stdout


def test_works_with_file_numbers_above_1024(url: str) -> None:
    soft_limit, hard_limit = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft_limit < 1200:
        if hard_limit != resource.RLIM_INFINITY and hard_limit < 1200:
            skip_or_fail(f"needs 1200 open files, the hard limit is {hard_limit}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (1200, hard_limit))
    padding = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        with lro.Client(url) as first, lro.Client(url) as second:
            op = first.new_operation()
            woken = threading.Event()
            with second.store.changes.subscribe([op.name], lambda _name: woken.set()):
                op.done()
                assert woken.wait(10)
            assert second.get_operation(op.name).done
    finally:
        for fd in padding:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft_limit, hard_limit))


def test_a_role_without_privileges_gets_permission_denied(postgres_database_url: str) -> None:
    role = f"lro_test_role_{uuid.uuid4().hex[:8]}"
    _query(postgres_database_url, f"CREATE ROLE {role} LOGIN")
    try:
        parts = urlsplit(fresh_postgres_url(postgres_database_url))
        as_role = urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port}"))
        with pytest.raises(lro.Error) as caught:
            open_store(as_role)
        assert caught.value.code == code_pb2.PERMISSION_DENIED
        assert "permission denied" in caught.value.message
    finally:
        _query(postgres_database_url, f"DROP ROLE {role}")
