"""The SQLite connector: one file in WAL mode, a small pool of connections, one writer.

Write transactions begin IMMEDIATE, taking SQLite's one write lock at once, so what a
transaction reads stays true until it commits (what ``FOR UPDATE`` does elsewhere).
Before it, every write (a transaction, or one statement that writes) takes the file's
write lock of this process (``sqlite_lock``), so that this process's writers queue
rather than poll SQLite; SQLite's busy timeout waits only for other processes.
Other processes' commits are seen by polling ``PRAGMA data_version``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from google.rpc import code_pb2

from lro._core.errors import Error, FailedPrecondition, InvalidArgument, Unavailable
from lro._core.filters import OPERATION_COLUMNS, SqlDialect
from lro._store.base import now_us
from lro._store.connectors.base import Dialect, DriverQueries, Queries, query_texts
from lro._store.connectors.sqlite_lock import is_write, write_lock_for
from lro._store.driver_errors import store_error
from lro._store.notify import ChangeHub
from lro._store.queries import load_migrations
from lro._store.sqlite_watch import DEFAULT_CHANGE_POLL_INTERVAL, DataVersionWatcher

SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")
# How a file is opened, as SQLite's URIs say it: read-only, read-write, or read-write
# and created if missing.
MODES = ("ro", "rw", "rwc")
READ_ONLY_MESSAGE = "the database is read-only: it takes no writes"
WAL_RETRY_PAUSE = 0.005
T = TypeVar("T")


def _names_as_json(names: Sequence[str]) -> str:
    return json.dumps(list(names))


SQLITE_DIALECT = Dialect(
    filters=SqlDialect(placeholder=":{}", columns=OPERATION_COLUMNS),
    names=_names_as_json,
    names_from=json.loads,
    database_clock=False,
)
# By SQLite's primary result code (the low byte of the extended one).
_CODES = {
    sqlite3.SQLITE_BUSY: code_pb2.UNAVAILABLE,
    sqlite3.SQLITE_LOCKED: code_pb2.UNAVAILABLE,
    sqlite3.SQLITE_CANTOPEN: code_pb2.UNAVAILABLE,
    sqlite3.SQLITE_IOERR: code_pb2.UNAVAILABLE,
    sqlite3.SQLITE_FULL: code_pb2.UNAVAILABLE,
    sqlite3.SQLITE_PROTOCOL: code_pb2.UNAVAILABLE,
    sqlite3.SQLITE_NOMEM: code_pb2.RESOURCE_EXHAUSTED,
    sqlite3.SQLITE_SCHEMA: code_pb2.ABORTED,
    sqlite3.SQLITE_INTERRUPT: code_pb2.CANCELLED,
    sqlite3.SQLITE_PERM: code_pb2.PERMISSION_DENIED,
    sqlite3.SQLITE_AUTH: code_pb2.PERMISSION_DENIED,
    sqlite3.SQLITE_READONLY: code_pb2.FAILED_PRECONDITION,
    sqlite3.SQLITE_CORRUPT: code_pb2.DATA_LOSS,
    sqlite3.SQLITE_NOTADB: code_pb2.DATA_LOSS,
    sqlite3.SQLITE_TOOBIG: code_pb2.INVALID_ARGUMENT,
    sqlite3.SQLITE_RANGE: code_pb2.INTERNAL,
}
_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_KEY_TAKEN = {sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE}


def sqlite_code(exc: sqlite3.Error) -> int:
    """The ``google.rpc.Code`` of a sqlite3 error, by its ``sqlite_errorcode``."""
    extended = getattr(exc, "sqlite_errorcode", None)
    if extended is None:  # raised by the module itself (misuse, closed connection)
        return code_pb2.INTERNAL
    if extended in _KEY_TAKEN:
        return code_pb2.ALREADY_EXISTS
    return _CODES.get(extended & 0xFF, code_pb2.INTERNAL)


class SqliteConnector(DriverQueries[sqlite3.Connection]):
    """Named queries on a SQLite file, in up to ``max_connections`` connections.

    Changes made by other processes (or other stores on the same file) are published
    within ``change_poll_interval`` seconds once ``listen`` is called; 0 turns that off.
    """

    driver_error = sqlite3.Error
    dialect = SQLITE_DIALECT

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 5000,
        max_connections: int = 8,
        change_poll_interval: float = DEFAULT_CHANGE_POLL_INTERVAL,
        mode: str = "rwc",
    ) -> None:
        if mode not in MODES:
            raise InvalidArgument(f"mode must be one of {MODES}, got {mode!r}")
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
        if mode != "rwc" and not self.path.is_file():
            raise FailedPrecondition(f"there is no SQLite database at {str(self.path)!r}")
        self.mode = mode
        # A file this process may not write (another user's, 0444) is opened read-only
        # too: SQLite would, and then fail each write; here a write says why.
        self.read_only = mode == "ro" or (self.path.exists() and not os.access(self.path, os.W_OK))
        self.synchronous = synchronous.upper()
        self.busy_timeout_ms = busy_timeout_ms
        self.change_poll_interval = change_poll_interval
        self._sql = query_texts("sqlite")
        self._writes = frozenset(name for name, text in self._sql.items() if is_write(text))
        self._write_lock = write_lock_for(self.path)
        self._max_connections = max_connections
        self._idle: list[sqlite3.Connection] = []
        self._opened: list[sqlite3.Connection] = []
        self._available = threading.Condition()
        self._waiting = 0
        self._closed = False
        self._watcher: DataVersionWatcher | None = None
        self._migrate()

    def __repr__(self) -> str:
        return f"SqliteConnector({str(self.path)!r}, synchronous={self.synchronous!r})"

    def listen(self, hub: ChangeHub) -> None:
        """Poll the file for other connections' commits and publish them into ``hub``."""
        if self.change_poll_interval > 0 and self._watcher is None:
            self._watcher = DataVersionWatcher(
                self._open_connection, hub, self.change_poll_interval
            )

    def close(self) -> None:
        """Stop polling and close every connection; later calls raise Unavailable."""
        self._closed = True
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        with self._available:
            connections, self._opened, self._idle = self._opened, [], []
            self._available.notify_all()
        for connection in connections:
            connection.close()

    def _translate(self, exc: Exception, action: str) -> Error:
        assert isinstance(exc, sqlite3.Error)
        read_only = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF == sqlite3.SQLITE_READONLY
        plain = READ_ONLY_MESSAGE if read_only else None
        where = f"SQLite {str(self.path)!r}"
        return store_error(sqlite_code(exc), where, action, str(exc), plain)

    def _run(
        self, text: str, query: str, params: Mapping[str, Any], fetch: Callable[[Any], T]
    ) -> T:
        if query not in self._writes:  # a read: WAL readers run beside the writer
            return super()._run(text, query, params, fetch)
        self._take_write_lock(query)
        try:
            return super()._run(text, query, params, fetch)
        finally:
            self._write_lock.release()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Queries]:
        """A write transaction on one pooled connection, under the file's write lock
        (taken before a connection is, as every write here takes them)."""
        with self.writing("transaction"), super().transaction() as db:
            yield db

    @contextlib.contextmanager
    def writing(self, action: str) -> Iterator[None]:
        """The block runs holding this process's write lock on the file."""
        self._take_write_lock(action)
        try:
            yield
        finally:
            self._write_lock.release()

    def _take_write_lock(self, action: str) -> None:
        """Wait for this process's other writers of the file, at most the busy timeout,
        then fail as a write that SQLite kept waiting as long does: Unavailable."""
        if not self._write_lock.acquire(self.busy_timeout_ms / 1000):
            waited = f"this process's other writers held the file for {self.busy_timeout_ms} ms"
            raise store_error(code_pb2.UNAVAILABLE, f"SQLite {str(self.path)!r}", action, waited)

    @contextlib.contextmanager
    def _begin(self, connection: sqlite3.Connection) -> Iterator[None]:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
            connection.execute("COMMIT")
        finally:
            if connection.in_transaction:  # the block raised, or COMMIT failed
                connection.execute("ROLLBACK")

    def _checkout(self) -> sqlite3.Connection:
        if self._closed:
            raise Unavailable("the store is closed")
        try:
            return self._idle.pop()  # atomic: the common case takes no lock
        except IndexError:
            return self._checkout_waiting()

    def _checkout_waiting(self) -> sqlite3.Connection:
        """An idle connection, a new one while fewer than the most are open, or the
        next one returned."""
        with self._available:
            self._waiting += 1  # before looking: a connection returned now notifies
            try:
                while True:
                    if self._closed:
                        raise Unavailable("the store is closed")
                    with contextlib.suppress(IndexError):
                        return self._idle.pop()
                    if len(self._opened) < self._max_connections:
                        break
                    self._available.wait()
            finally:
                self._waiting -= 1
            connection = self._connect()
            self._opened.append(connection)
            return connection

    def _checkin(self, connection: sqlite3.Connection) -> None:
        if self._closed:
            return
        self._idle.append(connection)
        if self._waiting:
            with self._available:
                self._available.notify()

    def _connect(self) -> sqlite3.Connection:
        with self._translated("open"):
            connection = self._open_connection()
        connection.row_factory = sqlite3.Row
        return connection

    def _open_connection(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self._uri(), isolation_level=None, check_same_thread=False, timeout=0, uri=True
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            if not self.read_only:  # a write; a read-only file keeps the mode it has
                self._use_wal(connection)
            connection.execute(f"PRAGMA synchronous = {self.synchronous}")
        except BaseException:
            connection.close()
            raise
        return connection

    def _use_wal(self, connection: sqlite3.Connection) -> None:
        """Put the file in WAL mode (it stays so), retried while another connection
        holds it busy: the change, or WAL recovery by a connection opened at the same
        time, can refuse at once without waiting the busy timeout."""
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        while True:
            try:
                connection.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                busy = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF in _BUSY
                if not busy or time.monotonic() >= deadline:
                    raise
            time.sleep(WAL_RETRY_PAUSE)

    def _uri(self) -> str:
        """The file's URI, with the mode to open it in.

        A read-only file in WAL mode needs its ``-shm`` file, which SQLite makes next to
        it. In a folder this process cannot write, without one (so no writer has the
        file open), the file is opened as immutable: read as it is, without locks.
        """
        path = self.path.absolute()
        uri = f"file:{urllib.parse.quote(str(path))}?mode={'ro' if self.read_only else self.mode}"
        shared_memory = path.with_name(path.name + "-shm")
        if self.read_only and not shared_memory.exists() and not os.access(path.parent, os.W_OK):
            uri += "&immutable=1"
        return uri

    def _migrate(self) -> None:
        """Apply the migrations this file lacks, in one write transaction; a file that
        lacks none is only read, so that a read-only one opens."""
        with self._translated("migrate"), self.connection() as connection:
            if self._up_to_date(connection):
                return
            if self.read_only:
                raise FailedPrecondition(
                    "the SQLite database is read-only and lacks lro's newest tables; "
                    "open it once for writing to bring it up to date"
                )
            # The connection is taken before the lock, unlike elsewhere: safe, as no
            # other thread uses this store yet.
            with self.writing("migrate"), self._begin(connection):
                self._apply_migrations(connection)

    def _up_to_date(self, connection: sqlite3.Connection) -> bool:
        """Whether every migration is applied (a read only)."""
        if connection.execute(self._sql["migrations_table_exists"]).fetchone() is None:
            return False
        applied = {row[0] for row in connection.execute(self._sql["applied_migrations"])}
        return all(number in applied for number, _, _ in load_migrations("sqlite"))

    def _apply_migrations(self, connection: sqlite3.Connection) -> None:
        """In the transaction begun on ``connection``: the migrations it lacks."""
        connection.execute(self._sql["create_migrations_table"])
        applied = {row[0] for row in connection.execute(self._sql["applied_migrations"])}
        for number, file_name, sql in load_migrations("sqlite"):
            if number not in applied:
                for statement in _statements(sql):
                    connection.execute(statement)
                connection.execute(
                    self._sql["record_migration"],
                    {"number": number, "file_name": file_name, "applied_time_us": now_us()},
                )


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
