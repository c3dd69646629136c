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

from lro._core.errors import AlreadyExists, InvalidArgument, NotFound, Unavailable
from lro._core.listing import ListQuery
from lro._store.base import OperationRecord, StaleVersion, now_us
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
from lro._store.spanner_wakeups import SpannerWakeups, forget_wakeup, settle_finished
from lro._store.spanner_watch import DEFAULT_CHANGE_POLL_INTERVAL, VersionPoller

_QUERIES = load_queries("spanner")
PAGE_TOKEN_KEY_SETTING = "page_token_key"  # noqa: S105 (a setting name, not a secret)
MAX_ABORTED_RETRIES = 50
_UNAVAILABLE = (
    api_exceptions.RetryError,
    api_exceptions.ServiceUnavailable,
    api_exceptions.DeadlineExceeded,
    api_exceptions.InternalServerError,
)

# A read during an outage fails soon, as on the other backends: the client library
# would retry an unreachable server without end, and wait for a stopped one an hour.
READ_RETRY = api_retry.Retry(
    predicate=api_retry.if_exception_type(api_exceptions.ServiceUnavailable),
    initial=0.05,
    maximum=0.25,
    timeout=1.0,
)
READ_TIMEOUT = 5.0


@contextlib.contextmanager
def _mapped_errors(where: str) -> Iterator[None]:
    """Turn transient Spanner failures into ``lro.Unavailable``, by exception class."""
    try:
        yield
    except _UNAVAILABLE as exc:
        raise Unavailable(f"Spanner {where}: {exc.message}") from exc


class SpannerStore(SpannerWakeups):
    """Operations in Cloud Spanner; updates are read-compare-write transactions."""

    def __init__(
        self,
        config: SpannerConfig,
        *,
        client: Any = None,
        serialize_transactions: bool | None = None,
        change_poll_interval: float = DEFAULT_CHANGE_POLL_INTERVAL,
    ) -> None:
        """Open the store.

        ``serialize_transactions`` (default: on the emulator only) runs this process's
        read-write transactions one at a time, as the emulator needs.
        ``change_poll_interval`` is how often, while anyone here waits, the operations
        waited for are read to see other processes' changes (0 turns that off).
        """
        self.config = config
        if serialize_transactions is None:
            serialize_transactions = bool(os.environ.get("SPANNER_EMULATOR_HOST"))
        self._transaction_lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if serialize_transactions else contextlib.nullcontext()
        )
        self.changes = ChangeHub()
        self._where = f"projects/{config.project}/instances/{config.instance}"
        self._owns_client = client is None
        self._page_token_key: bytes | None = None
        self._client = client or spanner.Client(project=config.project)
        instance = self._client.instance(config.instance)
        self._database = instance.database(config.database, database_role=config.database_role)
        with _mapped_errors(self._where):
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
        for number, file_name, sql in load_migrations("spanner"):
            if number in applied:
                continue
            self._apply_ddl(ddl_statements(sql))
            with self._database.batch() as batch:
                batch.insert_or_update(
                    "lro_migrations",
                    ["number", "file_name", "applied_time_us"],
                    [(number, file_name, now_us())],
                )

    def _apply_ddl(self, statements: list[str]) -> None:
        # AlreadyExists or FailedPrecondition: another process applied it first.
        with contextlib.suppress(api_exceptions.AlreadyExists, api_exceptions.FailedPrecondition):
            self._database.update_ddl(statements).result(timeout=300)

    def create(self, record: OperationRecord) -> OperationRecord:
        """Insert ``record``; AlreadyExists if the name is taken."""
        time_us = now_us()
        stored = record.replace(create_time_us=time_us, update_time_us=time_us, version=1)
        stored = stored.replace(version=self._layout.next_version(stored, 0))
        layout = self._layout
        try:
            with _mapped_errors(self._where), self._database.batch() as batch:
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
        with _mapped_errors(self._where), self._database.snapshot() as snapshot:
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
        stored = record.replace(update_time_us=now_us())
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

    def _run_in_transaction(self, work: Callable[[Any], object]) -> Any:
        """Run ``work`` in a read-write transaction, retried while Spanner aborts it.

        The client retries most aborts itself; an abort of a transaction's first
        statement (begun inline, as the emulator does when another process holds its
        one transaction) can escape it, so the whole transaction is run again here.
        """
        for attempt in itertools.count():
            try:
                with _mapped_errors(self._where), self._transaction_lock:
                    return self._database.run_in_transaction(work)
            except api_exceptions.Aborted:
                if attempt >= MAX_ABORTED_RETRIES:
                    raise Unavailable(f"Spanner {self._where}: transaction aborted") from None
                time.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))  # noqa: S311
        raise AssertionError("unreachable")

    def _snapshot_read(self, table: str, columns: list[str], keys: KeySet) -> list[Any]:
        with _mapped_errors(self._where), self._database.snapshot() as snapshot:
            return list(snapshot.read(table, columns, keys, retry=READ_RETRY, timeout=READ_TIMEOUT))

    def _snapshot_query(self, sql: str, params: dict[str, Any], types: dict[str, Any]) -> list[Any]:
        with _mapped_errors(self._where), self._database.snapshot() as snapshot:
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

        with _mapped_errors(self._where):
            return list_page(self._layout, query, run)

    def page_token_key(self) -> bytes:
        """The key that signs page tokens: made once, kept in ``lro_settings``."""
        if self._page_token_key is None:
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

        with _mapped_errors(self._where), self._transaction_lock:
            return bytes(self._database.run_in_transaction(read_or_insert))

    def close(self) -> None:
        """Stop polling; close the Spanner client if this store made it."""
        if self._poller is not None:
            self._poller.close()
            self._poller = None
        if self._owns_client:
            self._client.close()

    def __repr__(self) -> str:
        return f"SpannerStore({self._where}/databases/{self.config.database})"


def _keys(names: Collection[str]) -> KeySet:
    return KeySet(keys=[[name] for name in names])  # type: ignore[no-untyped-call]


def ddl_statements(sql: str) -> list[str]:
    """The statements of a DDL file, without comments."""
    code = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return [statement.strip() for statement in code.split(";") if statement.strip()]
