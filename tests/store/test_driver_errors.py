"""Every driver error leaves the store as an lro.Error with its code, on every backend.

The failure is injected under the store: the driver itself (sqlite3, psycopg, the
Spanner client) raises its own exception type, with a message full of what a caller
must not see (a path, a host, SQL), for one chosen query or client call. The store must
answer with the code that the driver's classification gives, a plain message, and the
details in the ``lro.store`` log.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from google.api_core import exceptions as api_exceptions
from google.rpc import code_pb2

import lro
from lro._core import transitions
from lro._core.filters import parse_filter
from lro._core.listing import ListQuery
from lro._store.base import OperationRecord, WaitPlan, WakeupStore
from lro._store.connectors.base import FILTER_SLOT, query_texts
from lro._store.driver_errors import reason
from lro._store.urls import open_store

# What a driver's message may hold and a caller must not see.
HIDDEN_DETAIL = "/srv/data/lro.db at db.internal:5432 running SELECT * FROM lro_operations"

# A store call, and the query it runs on SQLite and PostgreSQL (the same name on both),
# or the client method it calls on Spanner.
CALLS: dict[str, tuple[str, str]] = {
    "get": ("get_operation", "read"),
    "update": ("update_operation", "run_in_transaction"),
    "list": ("list_operations", "execute_sql"),
    "schedule": ("upsert_wakeup", "run_in_transaction"),
}

# A kind of failure: the code the store must give, and how each driver says it.
FAILURES: dict[str, tuple[int, int, str, type[Exception]]] = {
    # kind: (code, sqlite_errorcode, SQLSTATE, api-core exception)
    "busy": (
        code_pb2.UNAVAILABLE,
        sqlite3.SQLITE_BUSY,
        "57P01",  # admin_shutdown
        api_exceptions.ServiceUnavailable,
    ),
    "denied": (
        code_pb2.PERMISSION_DENIED,
        sqlite3.SQLITE_AUTH,
        "42501",  # insufficient_privilege
        api_exceptions.PermissionDenied,
    ),
    "damaged": (
        code_pb2.DATA_LOSS,
        sqlite3.SQLITE_CORRUPT,
        "XX001",  # data_corrupted
        api_exceptions.DataLoss,
    ),
    "bug": (
        code_pb2.INTERNAL,
        sqlite3.SQLITE_ERROR,
        "42P01",  # undefined_table
        api_exceptions.Unknown,
    ),
}

Inject = Callable[[str, str], None]


def _sqlite_error(kind: str) -> sqlite3.Error:
    error = sqlite3.OperationalError(HIDDEN_DETAIL)
    error.sqlite_errorcode = FAILURES[kind][1]  # as the driver sets it
    return error


def _postgres_error(kind: str) -> Exception:
    import psycopg

    return psycopg.errors.lookup(FAILURES[kind][2])(HIDDEN_DETAIL)


def _fails(texts: dict[str, str], query: str, text: object) -> bool:
    """Whether ``text`` is the SQL of ``query`` (its filter slot filled or not)."""
    if isinstance(text, bytes):
        text = text.decode()
    return isinstance(text, str) and text.startswith(texts[query].split(FILTER_SLOT)[0])


@pytest.fixture
def injected(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[WakeupStore, Inject]]:
    """A store on each backend, and ``inject(call, kind)``: from then on the driver
    raises a ``kind`` failure when the store makes ``call``."""
    failing: dict[str, str] = {}  # the query or client method -> the failure's kind
    backend = urlsplit(store_url).scheme
    if backend == "sqlite":
        texts = query_texts("sqlite")

        class FailingConnection(sqlite3.Connection):
            def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
                for query, kind in failing.items():
                    if _fails(texts, query, sql):
                        raise _sqlite_error(kind)
                return super().execute(sql, parameters)

        connect = sqlite3.connect
        monkeypatch.setattr(
            sqlite3, "connect", lambda *a, **k: connect(*a, **k, factory=FailingConnection)
        )
    elif backend == "postgresql":
        import psycopg

        texts = query_texts("postgresql")
        execute = psycopg.Connection.execute

        def failing_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            for name, kind in failing.items():
                if _fails(texts, name, query):
                    raise _postgres_error(kind)
            return execute(self, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.Connection, "execute", failing_execute)
    else:
        from google.cloud.spanner_v1 import database, snapshot

        for owner, method in (
            (snapshot.Snapshot, "read"),
            (snapshot.Snapshot, "execute_sql"),
            (database.Database, "run_in_transaction"),
        ):
            monkeypatch.setattr(
                owner, method, _failing_client_call(getattr(owner, method), failing)
            )
    store = open_store(store_url)
    assert hasattr(store, "schedule")

    def inject(call: str, kind: str) -> None:
        sql_query, client_method = CALLS[call]
        failing[client_method if backend == "spanner" else sql_query] = kind

    yield store, inject  # type: ignore[misc]
    failing.clear()
    store.close()


def _failing_client_call(call: Callable[..., Any], failing: dict[str, str]) -> Any:
    def failing_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        kind = failing.get(call.__name__)
        if kind is not None:
            raise FAILURES[kind][3](HIDDEN_DETAIL)
        return call(self, *args, **kwargs)

    return failing_call


def _make_call(store: WakeupStore, call: str, record: OperationRecord) -> None:
    if call == "get":
        store.get(record.name)
    elif call == "update":
        store.update(record.replace(state=b"1"), expected_version=record.version)
    elif call == "list":
        query = ListQuery("operations", parse_filter("done = false"), after=None, limit=10)
        store.list_page(query)
    else:
        plan = WaitPlan(target_kind="handler", target="h", sleep_us=10**9)
        store.schedule(record.replace(state=b"2"), record.version, plan)


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("kind", sorted(FAILURES))
def test_a_driver_failure_is_an_lro_error_with_its_code(
    injected: tuple[WakeupStore, Inject],
    store_url: str,
    call: str,
    kind: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, inject = injected
    record = store.create(OperationRecord(operation=transitions.new_operation("operations/a")))
    inject(call, kind)
    with caplog.at_level(logging.WARNING, logger="lro.store"), pytest.raises(lro.Error) as caught:
        _make_call(store, call, record)
    code = FAILURES[kind][0]
    assert caught.value.code == code
    plain, reference = _plain_and_reference(caught.value.message)
    assert plain == reason(code)  # plain: no path, host or SQL
    assert HIDDEN_DETAIL in caplog.text  # the details go to the log
    assert f"[ref {reference}]" in caplog.text  # under the reference the caller got
    if not store_url.startswith("spanner:"):
        assert f": {CALLS[call][0]} failed" in caplog.text  # naming the query that failed


def _plain_and_reference(message: str) -> tuple[str, str]:
    """The plain reason and the reference of a driver error's message."""
    found = re.fullmatch(r"(.*) \(ref ([0-9a-f]{8})\)", message)
    assert found is not None, message
    return found.group(1), found.group(2)
