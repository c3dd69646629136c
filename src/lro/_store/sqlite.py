"""The SQLite store: the embedded default, one file, safe from many threads."""

from __future__ import annotations

import contextlib
import json
import queue
import secrets
import sqlite3
import threading
from collections.abc import Collection, Iterator
from pathlib import Path

from lro._core.errors import AlreadyExists, InvalidArgument, NotFound, Unavailable
from lro._core.filters import OPERATION_COLUMNS, SqlDialect, compile_filter
from lro._core.listing import ListQuery, keyset_parameters
from lro._store.base import (
    OperationRecord,
    StaleVersion,
    column_values,
    now_us,
    record_from_columns,
)
from lro._store.notify import ChangeHub
from lro._store.queries import load_migrations, load_queries
from lro._store.sqlite_wakeups import SqliteWakeups
from lro._store.sqlite_watch import DEFAULT_CHANGE_POLL_INTERVAL, DataVersionWatcher

SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")
_QUERIES = load_queries("sqlite")
FILTER_SLOT = "/*filter*/"
PAGE_TOKEN_KEY_SETTING = "page_token_key"  # noqa: S105 (a setting name, not a secret)
SQLITE_DIALECT = SqlDialect(
    placeholder=":{}",
    columns=OPERATION_COLUMNS,
)
_UNAVAILABLE_CODES = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL,
}


@contextlib.contextmanager
def _mapped_errors(path: Path) -> Iterator[None]:
    """Turn SQLite's transient failures into ``lro.Unavailable``, by error code."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in _UNAVAILABLE_CODES:
            raise Unavailable(f"SQLite database {str(path)!r}: {exc}") from exc
        raise


class SqliteStore(SqliteWakeups):
    """Operations in a SQLite file, in WAL mode, every update a compare-and-set.

    Changes made by other processes (or other stores on the same file) wake this
    store's waiters within ``change_poll_interval`` seconds; 0 turns that watch off.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 5000,
        max_connections: int = 8,
        change_poll_interval: float = DEFAULT_CHANGE_POLL_INTERVAL,
    ) -> None:
        if synchronous.upper() not in SYNCHRONOUS_LEVELS:
            raise InvalidArgument(
                f"synchronous must be one of {SYNCHRONOUS_LEVELS}, got {synchronous!r}"
            )
        if str(path) == ":memory:":
            raise InvalidArgument(
                "an in-memory SQLite database is not supported: each of the store's "
                "connections (and each process) would see its own empty database; "
                "use a file, such as sqlite:///lro.db (or a temporary folder in tests)"
            )
        self.path = Path(path)
        self.synchronous = synchronous.upper()
        self.busy_timeout_ms = busy_timeout_ms
        self.changes = ChangeHub()
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._page_token_key: bytes | None = None
        with _mapped_errors(self.path):
            self._migrate()
        self._watcher = (
            DataVersionWatcher(self._open_connection, self.changes, change_poll_interval)
            if change_poll_interval > 0
            else None
        )

    def _open_connection(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=0
        )
        connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute(f"PRAGMA synchronous = {self.synchronous}")
        return connection

    def _connect(self) -> sqlite3.Connection:
        connection = self._open_connection()
        connection.row_factory = sqlite3.Row
        with self._lock:
            self._all.append(connection)
        return connection

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise Unavailable(f"the store for {str(self.path)!r} is closed")
        with self._slots, _mapped_errors(self.path):
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                connection = self._connect()
            try:
                yield connection
            finally:
                self._idle.put(connection)

    def _migrate(self) -> None:
        with self._connection() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.execute(_QUERIES["create_migrations_table"])
                applied = {row[0] for row in connection.execute(_QUERIES["applied_migrations"])}
                for number, file_name, sql in load_migrations("sqlite"):
                    if number not in applied:
                        for statement in _statements(sql):
                            connection.execute(statement)
                        connection.execute(
                            _QUERIES["record_migration"], (number, file_name, now_us())
                        )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise

    def create(self, record: OperationRecord) -> OperationRecord:
        """Insert ``record`` at version 1; AlreadyExists if the name is taken."""
        time_us = now_us()
        stored = record.replace(version=1, create_time_us=time_us, update_time_us=time_us)
        try:
            with self._connection() as connection:
                connection.execute(_QUERIES["insert_operation"], _row_values(stored))
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists(f"operation {record.name!r} exists already") from exc
        self.changes.publish(record.name)
        return stored

    def get(self, name: str) -> OperationRecord:
        """The record called ``name``; NotFound if none."""
        with self._connection() as connection:
            row = connection.execute(_QUERIES["get_operation"], (name,)).fetchone()
        if row is None:
            raise NotFound(name)
        return _record_from_row(row)

    def get_many(self, names: Collection[str]) -> dict[str, OperationRecord]:
        """The records that exist among ``names``, by name."""
        with self._connection() as connection:
            rows = connection.execute(_QUERIES["get_operations"], (json.dumps(list(names)),))
            return {row["name"]: _record_from_row(row) for row in rows}

    def update(self, record: OperationRecord, expected_version: int) -> OperationRecord:
        """Write ``record`` if the stored version is ``expected_version``."""
        stored = record.replace(version=expected_version + 1, update_time_us=now_us())
        with self._connection() as connection:
            cursor = connection.execute(
                _QUERIES["update_operation"],
                {**_row_values(stored), "expected_version": expected_version},
            )
            if cursor.rowcount == 0:
                exists = connection.execute(_QUERIES["operation_exists"], (record.name,))
                if exists.fetchone() is None:
                    raise NotFound(record.name)
                raise StaleVersion(f"operation {record.name!r} changed concurrently")
        self.changes.publish(record.name)
        return stored

    def delete(self, name: str) -> None:
        """Remove ``name``; NotFound if none."""
        with self._connection() as connection:
            cursor = connection.execute(_QUERIES["delete_operation"], (name,))
        if cursor.rowcount == 0:
            raise NotFound(name)
        self.changes.publish(name)

    def _row_values(self, record: OperationRecord) -> dict[str, object]:
        return _row_values(record)

    def _record_from_row(self, row: sqlite3.Row) -> OperationRecord:
        return _record_from_row(row)

    def list_page(self, query: ListQuery) -> list[OperationRecord]:
        """One keyset page of ``query``, in (create time, name) order."""
        compiled = compile_filter(query.filter, SQLITE_DIALECT)
        sql = _QUERIES["list_operations"].replace(FILTER_SLOT, compiled.sql)
        params = {**compiled.params, **keyset_parameters(query)}
        with self._connection() as connection:
            return [_record_from_row(row) for row in connection.execute(sql, params)]

    def page_token_key(self) -> bytes:
        """The key that signs page tokens: made once, kept in the database."""
        if self._page_token_key is None:
            with self._connection() as connection:
                connection.execute(
                    _QUERIES["insert_setting"], (PAGE_TOKEN_KEY_SETTING, secrets.token_bytes(32))
                )
                row = connection.execute(
                    _QUERIES["get_setting"], (PAGE_TOKEN_KEY_SETTING,)
                ).fetchone()
            self._page_token_key = bytes(row["value"])
        return self._page_token_key

    def close(self) -> None:
        """Close every connection; later calls raise Unavailable."""
        self._closed = True
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        with self._lock:
            connections, self._all = self._all, []
        for connection in connections:
            connection.close()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r}, synchronous={self.synchronous!r})"


def _statements(sql: str) -> list[str]:
    """The statements of a migration, split at semicolons that end one (a trigger's
    body has semicolons inside it)."""
    statements, pending = [], ""
    for piece in sql.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip())
            pending = ""
    if pending.strip(" \n;"):
        statements.append(pending.strip())
    return statements


_row_values = column_values  # sqlite3 stores Python bools as 0 and 1
_record_from_row = record_from_columns
