"""The Spanner store: lro's own table, or a table shared with Go services."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import secrets
import threading
import time
from collections.abc import Callable, Collection, Iterator
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry
from google.cloud import spanner
from google.cloud.spanner_v1 import KeySet, param_types
from google.rpc import code_pb2

from lro._core.clock import SYSTEM_CLOCK, Clock
from lro._core.errors import (
    AlreadyExists,
    Error,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from lro._core.listing import ListQuery
from lro._store.base import OperationRecord, PurgeQuery, StaleVersion
from lro._store.driver_errors import store_error
from lro._store.notify import ChangeHub
from lro._store.queries import load_migrations, load_queries
from lro._store.spanner_config import SpannerConfig
from lro._store.spanner_layouts import (
    GoLayout,
    Layout,
    OwnLayout,
    from_bytes_value,
    to_bytes_value,
)
from lro._store.spanner_listing import list_page
from lro._store.spanner_requests import refuse_request_on
from lro._store.spanner_retention import PARAM_TYPES, purge_in, purgeable_sql
from lro._store.spanner_wakeups import (
    SpannerWakeups,
    TransactionGaveUp,
    forget_wakeup,
    settle_finished,
)
from lro._store.spanner_watch import DEFAULT_CHANGE_POLL_INTERVAL, VersionPoller

_QUERIES = load_queries("spanner")
PAGE_TOKEN_KEY_SETTING = "page_token_key"  # noqa: S105 (a setting name, not a secret)
MAX_ABORTED_RETRIES = 50
# By google-api-core's exception class (the nearest in the class's MRO wins).
_CODES: dict[type[Exception], int] = {
    api_exceptions.ServiceUnavailable: code_pb2.UNAVAILABLE,
    api_exceptions.DeadlineExceeded: code_pb2.UNAVAILABLE,
    api_exceptions.InternalServerError: code_pb2.UNAVAILABLE,
    api_exceptions.RetryError: code_pb2.UNAVAILABLE,
    api_exceptions.Aborted: code_pb2.ABORTED,
    api_exceptions.AlreadyExists: code_pb2.ALREADY_EXISTS,
    api_exceptions.Cancelled: code_pb2.CANCELLED,
    api_exceptions.DataLoss: code_pb2.DATA_LOSS,
    api_exceptions.FailedPrecondition: code_pb2.FAILED_PRECONDITION,
    api_exceptions.NotFound: code_pb2.FAILED_PRECONDITION,  # a database or table
    api_exceptions.InvalidArgument: code_pb2.INVALID_ARGUMENT,
    api_exceptions.OutOfRange: code_pb2.INVALID_ARGUMENT,
    api_exceptions.PermissionDenied: code_pb2.PERMISSION_DENIED,
    api_exceptions.Unauthenticated: code_pb2.UNAUTHENTICATED,
    api_exceptions.ResourceExhausted: code_pb2.RESOURCE_EXHAUSTED,
}

# A read during an outage fails soon, as on the other backends: the client library
# would retry an unreachable server without end, and wait for a stopped one an hour.
READ_RETRY = api_retry.Retry(
    predicate=api_retry.if_exception_type(api_exceptions.ServiceUnavailable),
    initial=0.05,
    maximum=0.25,
    timeout=1.0,
)
READ_TIMEOUT = 5.0
# At close, how long a read-write transaction under way (on the emulator, one at a time)
# is given to end before the client closes under it.
CLOSE_WAIT = 5.0


def spanner_code(exc: api_exceptions.GoogleAPIError) -> int:
    """The ``google.rpc.Code`` of a Spanner client error, by its exception class."""
    for cls in type(exc).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return code_pb2.INTERNAL


class SpannerStore(SpannerWakeups):
    """Operations in Cloud Spanner; updates are read-compare-write transactions."""

    def __init__(
        self,
        config: SpannerConfig,
        *,
        client: Any = None,
        serialize_transactions: bool | None = None,
        change_poll_interval: float = DEFAULT_CHANGE_POLL_INTERVAL,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """Open the store.

        ``serialize_transactions`` (default: on the emulator only) runs this process's
        read-write transactions one at a time, as the emulator needs.
        ``change_poll_interval`` is how often, while anyone here waits, the operations
        waited for are read to see other processes' changes (0 turns that off).
        ``clock`` gives every time written (create, update, due and lease times).
        """
        self.config = config
        self.clock = clock
        if serialize_transactions is None:
            serialize_transactions = bool(os.environ.get("SPANNER_EMULATOR_HOST"))
        self._transaction_lock = threading.Lock() if serialize_transactions else None
        self.changes = ChangeHub()
        self._where = f"projects/{config.project}/instances/{config.instance}"
        self._owns_client = client is None
        self._page_token_key: bytes | None = None
        self._client = client or spanner.Client(project=config.project)
        instance = self._client.instance(config.instance)
        self._database = instance.database(config.database, database_role=config.database_role)
        with self._translated("open"):
            self._layout = self._open_layout()
        self._poller = (
            VersionPoller(self._versions, self.changes, change_poll_interval)
            if change_poll_interval > 0
            else None
        )

    def _versions(self, names: Collection[str]) -> dict[str, int]:
        return {name: record.version for name, record in self.get_many(names).items()}

    def _open_layout(self) -> Layout:
        if self.config.table is None:
            self._migrate()
            return OwnLayout()
        columns = self._table_columns(self.config.table)
        if not columns:
            raise InvalidArgument(
                f"Spanner table {self.config.table!r} does not exist in {self.config.database!r}"
            )
        return GoLayout(self.config.table, columns)

    def _table_columns(self, table: str) -> list[str]:
        with self._database.snapshot() as snapshot:
            rows = snapshot.execute_sql(
                _QUERIES["table_columns"],
                params={"table_name": table},
                param_types={"table_name": param_types.STRING},
            )
            return [row[0] for row in rows]

    def _migrate(self) -> None:
        if not self._table_columns("lro_migrations"):
            self._apply_ddl([_QUERIES["create_migrations_table"]])
        with self._database.snapshot() as snapshot:
            applied = {row[0] for row in snapshot.execute_sql(_QUERIES["applied_migrations"])}
        migrated = False
        for number, file_name, sql in load_migrations("spanner"):
            if number in applied:
                continue
            self._apply_ddl(ddl_statements(sql))
            with self._database.batch() as batch:
                batch.insert_or_update(
                    "lro_migrations",
                    ["number", "file_name", "applied_time_us"],
                    [(number, file_name, self.clock.now_us())],
                )
            migrated = True
        if migrated:  # the key comes with the schema, so that a listing only reads
            self._page_token_key = self._setting(PAGE_TOKEN_KEY_SETTING, secrets.token_bytes(32))

    def _apply_ddl(self, statements: list[str]) -> None:
        # AlreadyExists or FailedPrecondition: another process applied it first.
        with contextlib.suppress(api_exceptions.AlreadyExists, api_exceptions.FailedPrecondition):
            self._database.update_ddl(statements).result(timeout=300)

    def create(self, record: OperationRecord) -> OperationRecord:
        """Insert ``record``; AlreadyExists if the name is taken, DuplicateRequest if
        its request id was used before in its collection (lro's own schema only)."""
        refuse_request_on(self._layout, record)
        time_us = self.clock.now_us()
        stored = record.replace(create_time_us=time_us, update_time_us=time_us, version=1)
        stored = stored.replace(version=self._layout.next_version(stored, 0))
        layout = self._layout
        if record.request_id:  # looked up and inserted in one transaction
            self._run_in_transaction(lambda t: self._write_record_in(t, stored, None))
            self.changes.publish(record.name)
            return stored
        with self._translated("create"):
            try:
                with self._database.batch() as batch:
                    batch.insert(layout.table, layout.write_columns, [layout.row_values(stored)])
            except api_exceptions.AlreadyExists as exc:
                raise AlreadyExists(f"operation {record.name!r} exists already") from exc
        self.changes.publish(record.name)
        return stored

    def get(self, name: str) -> OperationRecord:
        """The record called ``name``; NotFound if none."""
        found = self.get_many([name])
        if name not in found:
            raise NotFound(name)
        return found[name]

    def get_many(self, names: Collection[str]) -> dict[str, OperationRecord]:
        """The records that exist among ``names``, by name."""
        if not names:
            return {}
        layout = self._layout
        with self._translated("read"), self._database.snapshot() as snapshot:
            rows = snapshot.read(
                layout.table,
                layout.read_columns,
                _keys(names),
                retry=READ_RETRY,
                timeout=READ_TIMEOUT,
            )
            records = [layout.record_from_row(row) for row in rows]
        return {record.name: record for record in records}

    def update(self, record: OperationRecord, expected_version: int) -> OperationRecord:
        """Write ``record`` if the stored version is ``expected_version``."""
        stored = record.replace(update_time_us=self.clock.now_us())
        stored = stored.replace(version=self._layout.next_version(stored, expected_version))

        def write(transaction: Any) -> None:
            current = self._read_in(transaction, record.name)
            if current.version != expected_version:
                raise StaleVersion(f"operation {record.name!r} changed concurrently")
            layout = self._layout
            transaction.update(layout.table, layout.write_columns, [layout.row_values(stored)])
            if isinstance(layout, OwnLayout) and stored.done and not current.done:
                settle_finished(transaction, record.name)

        self._run_in_transaction(write)
        self.changes.publish(record.name)
        return stored

    def delete(self, name: str) -> None:
        """Remove ``name``; NotFound if none."""

        def remove(transaction: Any) -> None:
            self._read_in(transaction, name)
            transaction.delete(self._layout.table, _keys([name]))
            if isinstance(self._layout, OwnLayout):
                forget_wakeup(transaction, name)

        self._run_in_transaction(remove)
        self.changes.publish(name)

    def _run_in_transaction(
        self, work: Callable[[Any], object], within: float | None = None
    ) -> Any:
        """Run ``work`` in a read-write transaction, retried while Spanner aborts it.

        The client retries most aborts itself; an abort of a transaction's first
        statement (begun inline, as the emulator does when another process holds its
        one transaction) can escape it, so the whole transaction is run again here.
        ``within`` bounds it all, in seconds, the wait for this process's turn
        included: a transaction still aborted then gives up, having written nothing
        (``TransactionGaveUp``).
        """
        deadline = None if within is None else time.monotonic() + within
        for attempt in itertools.count():
            try:
                with self._turn(deadline):
                    return self._database.run_in_transaction(work, **_retry_until(deadline))
            except api_exceptions.Aborted as exc:
                left = _seconds_left(deadline)
                if left <= 0:
                    raise TransactionGaveUp() from exc
                if attempt >= MAX_ABORTED_RETRIES:
                    raise self._error(exc, "transaction", code_pb2.UNAVAILABLE) from exc
                pause = random.uniform(0, min(0.5, 0.01 * 2**attempt))  # noqa: S311
                time.sleep(min(pause, left))
            except api_exceptions.GoogleAPIError as exc:
                raise self._error(exc, "transaction") from exc
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def _turn(self, deadline: float | None) -> Iterator[None]:
        """This process's turn for a read-write transaction, when they run one at a
        time (on the emulator); ``TransactionGaveUp`` if it does not come by ``deadline``
        (``time.monotonic()``)."""
        lock = self._transaction_lock
        if lock is None:
            yield
            return
        if not lock.acquire(timeout=-1 if deadline is None else max(0.0, _seconds_left(deadline))):
            raise TransactionGaveUp()
        try:
            yield
        finally:
            lock.release()

    def _snapshot_read(self, table: str, columns: list[str], keys: KeySet) -> list[Any]:
        with self._translated("read"), self._database.snapshot() as snapshot:
            return list(snapshot.read(table, columns, keys, retry=READ_RETRY, timeout=READ_TIMEOUT))

    def _snapshot_query(self, sql: str, params: dict[str, Any], types: dict[str, Any]) -> list[Any]:
        with self._translated("query"), self._database.snapshot() as snapshot:
            return list(snapshot.execute_sql(sql, params=params, param_types=types))

    def _read_in(self, transaction: Any, name: str) -> OperationRecord:
        layout = self._layout
        rows = list(transaction.read(layout.table, layout.read_columns, _keys([name])))
        if not rows:
            raise NotFound(name)
        return layout.record_from_row(rows[0])

    def list_page(self, query: ListQuery) -> list[OperationRecord]:
        """One keyset page of ``query``."""

        def run(sql: str, params: dict[str, Any]) -> list[Any]:
            with self._database.snapshot() as snapshot:
                return list(snapshot.execute_sql(sql, params=params))

        with self._translated("list"):
            return list_page(self._layout, query, run)

    def purge_batch(self, query: PurgeQuery) -> int:
        """Delete up to ``query.limit`` of the operations ``query`` selects, and their
        wake-ups, in one read-write transaction; how many went."""
        layout = self._layout
        return int(
            self._run_in_transaction(lambda transaction: purge_in(transaction, layout, query))
        )

    def count_purgeable(self, query: PurgeQuery) -> int:
        """How many operations ``query`` selects now."""
        sql, params = purgeable_sql(self._layout, "count_purgeable", query)
        types = {name: kind for name, kind in PARAM_TYPES.items() if name in params}
        with self._translated("count"), self._database.snapshot() as snapshot:
            rows = list(snapshot.execute_sql(sql, params=params, param_types=types))
        return int(rows[0][0]) if rows else 0

    def page_token_key(self) -> bytes:
        """The key that signs page tokens: made once, kept in ``lro_settings``."""
        if self._page_token_key is None:
            with self._translated("settings"):
                if not self._table_columns("lro_settings"):  # a Go package's database
                    self._apply_ddl([_QUERIES["create_settings_table"]])
            self._page_token_key = self._setting(PAGE_TOKEN_KEY_SETTING, secrets.token_bytes(32))
        return self._page_token_key

    def _setting(self, name: str, default: bytes) -> bytes:
        """The setting ``name``, stored as ``default`` by the first process to ask."""

        def read_or_insert(transaction: Any) -> bytes:
            rows = list(transaction.read("lro_settings", ["value"], _keys([name])))
            if rows:
                return from_bytes_value(rows[0][0]) or b""
            transaction.insert("lro_settings", ["name", "value"], [(name, to_bytes_value(default))])
            return default

        with self._translated("settings"), self._turn(None):
            return bytes(self._database.run_in_transaction(read_or_insert))

    def close(self) -> None:
        """Stop polling; close the Spanner client if this store made it. A call that
        comes later (a handler still running past a worker's stop) fails at once: on a
        closed client, the client library may retry a query without end, and keep the
        process from exiting."""
        if self._poller is not None:
            self._poller.close()
            self._poller = None
        closed = ClosedDatabase(repr(self))
        try:  # swapped under the turn: the transaction under way, if any, ends first
            with self._turn(time.monotonic() + CLOSE_WAIT):
                self._database = closed
        except TransactionGaveUp:  # it did not end in time: close under it
            self._database = closed
        if self._owns_client:
            self._client.close()

    def __repr__(self) -> str:
        return f"SpannerStore({self._where}/databases/{self.config.database})"

    @contextlib.contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """Spanner client errors raised in the block become ``lro.Error``."""
        try:
            yield
        except api_exceptions.GoogleAPIError as exc:
            raise self._error(exc, action) from exc

    def _error(
        self, exc: api_exceptions.GoogleAPIError, action: str, code: int | None = None
    ) -> Error:
        where = f"Spanner {self._where}/databases/{self.config.database}"
        return store_error(spanner_code(exc) if code is None else code, where, action, str(exc))


def _keys(names: Collection[str]) -> KeySet:
    return KeySet(keys=[[name] for name in names])  # type: ignore[no-untyped-call]


class ClosedDatabase:
    """What a closed store uses as its database: any call fails (FailedPrecondition)."""

    def __init__(self, store: str) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        raise FailedPrecondition(f"{self._store} is closed")


def _seconds_left(deadline: float | None) -> float:
    return float("inf") if deadline is None else deadline - time.monotonic()


def _retry_until(deadline: float | None) -> dict[str, float]:
    """The client's own retries of aborts end by ``deadline`` too (its default: 30 s)."""
    return {} if deadline is None else {"timeout_secs": max(0.0, _seconds_left(deadline))}


def ddl_statements(sql: str) -> list[str]:
    """The statements of a DDL file, without comments."""
    code = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return [statement.strip() for statement in code.split(";") if statement.strip()]
