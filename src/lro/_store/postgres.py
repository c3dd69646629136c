"""The PostgreSQL store: many processes and machines on one database.

Every write is one autocommitted statement (a compare-and-set for updates). A trigger
announces each change with NOTIFY; a listener thread per store turns the announcements
of other stores into wake-ups, so waiters in every process see a change at once.
"""

from __future__ import annotations

import contextlib
import secrets
import select
import time
import uuid
from collections.abc import Collection, Iterator
from typing import Any

import psycopg
from google.rpc import code_pb2
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from lro._core.errors import (
    Aborted,
    AlreadyExists,
    DeadlineExceeded,
    Error,
    InvalidArgument,
    NotFound,
    Unavailable,
)
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
from lro._store.postgres_listener import ChangeListener
from lro._store.postgres_settings import (
    DEFAULT_POOL_MAX_SIZE,
    DEFAULT_POOL_TIMEOUT,
    check_settings,
    redact,
)
from lro._store.postgres_wakeups import PostgresWakeups
from lro._store.queries import load_migrations, load_queries

_QUERIES = load_queries("postgresql")
FILTER_SLOT = "/*filter*/"
PAGE_TOKEN_KEY_SETTING = "page_token_key"  # noqa: S105 (a setting name, not a secret)
POSTGRES_DIALECT = SqlDialect(
    placeholder="%({})s",
    columns=OPERATION_COLUMNS,
)
CHANNEL_PREFIX = "lro_changes:"
CHECKOUT_SLICE = 0.25
DEFAULT_CONNECT_TIMEOUT = 10
# The pool retries a failed connection only briefly; the next call that needs one tries
# again. So calls fail fast while the server is down and succeed as soon as it is back.
RECONNECT_TIMEOUT = 0.1
_LISTENER_KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "53", "57P", "58")


class PostgresStore(PostgresWakeups):
    """Operations in a PostgreSQL database, shared by any number of processes.

    Args:
        conninfo: a libpq connection string or ``postgresql://`` URL.
        schema: keep the tables in this schema (created if missing) instead of the
            connection's current schema.
        pool_max_size: most connections this store opens for its calls.
        pool_timeout: seconds a call waits for a free connection before it fails
            with Unavailable.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str | None = None,
        pool_max_size: int = DEFAULT_POOL_MAX_SIZE,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    ) -> None:
        check_settings(schema, pool_max_size, pool_timeout)
        self._conninfo = conninfo
        self.description = _describe(conninfo, schema)
        self.origin = uuid.uuid4().hex
        self.changes = ChangeHub()
        self.pool_timeout = pool_timeout
        self._closed = False
        self._page_token_key: bytes | None = None
        self._kwargs = _connection_kwargs(conninfo, schema, self.origin)
        self._listener = self._migrate_and_listen(schema)
        self._pool: ConnectionPool[psycopg.Connection[DictRow]] = ConnectionPool(
            conninfo,
            connection_class=psycopg.Connection[DictRow],
            kwargs={**self._kwargs, "row_factory": dict_row},
            min_size=1,
            max_size=pool_max_size,
            reconnect_timeout=RECONNECT_TIMEOUT,
            num_workers=2,
            name=f"lro {self.description}",
            open=True,
        )

    def _migrate_and_listen(self, schema: str | None) -> ChangeListener:
        """Bring the schema up to date, then listen on its channel, on one connection."""
        with self._mapped_errors("cannot open"):
            first = self._connect_listening(channel=None)
            try:
                self.schema = _migrate(first, schema)
                self.channel = CHANNEL_PREFIX + self.schema
                first.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            except BaseException:
                first.close()
                raise
        return ChangeListener(
            first,
            lambda: self._connect_listening(self.channel),
            channel=self.channel,
            origin=self.origin,
            hub=self.changes,
        )

    def _connect_listening(self, channel: str | None) -> psycopg.Connection[Any]:
        connection = psycopg.connect(self._conninfo, **self._kwargs, **_LISTENER_KEEPALIVES)
        if channel is not None:
            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        return connection

    @contextlib.contextmanager
    def _mapped_errors(self, action: str) -> Iterator[None]:
        """Turn driver errors into lro errors by SQLSTATE, without the password."""
        try:
            yield
        except psycopg.Error as exc:
            raise _lro_error(
                exc, f"PostgreSQL {self.description}: {action}", self._conninfo
            ) from exc

    @contextlib.contextmanager
    def _connection(self, action: str) -> Iterator[psycopg.Connection[DictRow]]:
        if self._closed:
            raise Unavailable(f"the store for PostgreSQL {self.description} is closed")
        with self._mapped_errors(action):
            connection = self._checkout()
            try:
                yield connection
            finally:
                self._pool.putconn(connection)

    def _checkout(self) -> psycopg.Connection[DictRow]:
        """A live pooled connection; Unavailable soon when the server is known down."""
        deadline = time.monotonic() + self.pool_timeout
        while True:
            try:
                connection = self._pool.getconn(timeout=CHECKOUT_SLICE)
            except PoolTimeout:
                outage = self._listener.outage
                if outage is not None:
                    message = f"PostgreSQL {self.description} is unreachable: {outage}"
                    raise Unavailable(message) from None
                if time.monotonic() >= deadline:
                    raise Unavailable(
                        f"PostgreSQL {self.description}: no free connection within "
                        f"{self.pool_timeout:g}s (pool_max_size={self._pool.max_size})"
                    ) from None
                continue
            if not _went_stale(connection):
                return connection
            connection.close()  # the pool replaces it
            self._pool.putconn(connection)

    def create(self, record: OperationRecord) -> OperationRecord:
        """Insert ``record`` at version 1; AlreadyExists if the name is taken."""
        time_us = now_us()
        stored = record.replace(version=1, create_time_us=time_us, update_time_us=time_us)
        with self._connection(f"cannot create {record.name!r}") as connection:
            cursor = connection.execute(_QUERIES["insert_operation"], row_values(stored))
        if cursor.rowcount == 0:
            raise AlreadyExists(f"operation {record.name!r} exists already")
        self.changes.publish(record.name)
        return stored

    def get(self, name: str) -> OperationRecord:
        """The record called ``name``; NotFound if none."""
        with self._connection(f"cannot read {name!r}") as connection:
            row = connection.execute(_QUERIES["get_operation"], {"name": name}).fetchone()
        if row is None:
            raise NotFound(name)
        return _record_from_row(row)

    def get_many(self, names: Collection[str]) -> dict[str, OperationRecord]:
        """The records that exist among ``names``, by name."""
        if not names:
            return {}
        with self._connection("cannot read operations") as connection:
            rows = connection.execute(_QUERIES["get_operations"], {"names": list(names)})
            return {row["name"]: _record_from_row(row) for row in rows}

    def update(self, record: OperationRecord, expected_version: int) -> OperationRecord:
        """Write ``record`` if the stored version is ``expected_version``."""
        stored = record.replace(version=expected_version + 1, update_time_us=now_us())
        values = {**row_values(stored), "expected_version": expected_version}
        with self._connection(f"cannot update {record.name!r}") as connection:
            cursor = connection.execute(_QUERIES["update_operation"], values)
            if cursor.rowcount == 0:
                exists = connection.execute(_QUERIES["operation_exists"], {"name": record.name})
                if exists.fetchone() is None:
                    raise NotFound(record.name)
                raise StaleVersion(f"operation {record.name!r} changed concurrently")
        self.changes.publish(record.name)
        return stored

    def delete(self, name: str) -> None:
        """Remove ``name``; NotFound if none."""
        with self._connection(f"cannot delete {name!r}") as connection:
            cursor = connection.execute(_QUERIES["delete_operation"], {"name": name})
        if cursor.rowcount == 0:
            raise NotFound(name)
        self.changes.publish(name)

    def list_page(self, query: ListQuery) -> list[OperationRecord]:
        """One keyset page of ``query``, in (create time, name) order."""
        compiled = compile_filter(query.filter, POSTGRES_DIALECT)
        statement = _QUERIES["list_operations"].replace(FILTER_SLOT, compiled.sql)
        params = {**compiled.params, **keyset_parameters(query)}
        with self._connection("cannot list operations") as connection:
            return [_record_from_row(row) for row in connection.execute(statement, params)]

    def page_token_key(self) -> bytes:
        """The key that signs page tokens: made once, kept in the database."""
        if self._page_token_key is None:
            setting = {"name": PAGE_TOKEN_KEY_SETTING, "value": secrets.token_bytes(32)}
            with self._connection("cannot read settings") as connection:
                connection.execute(_QUERIES["insert_setting"], setting)
                row = connection.execute(_QUERIES["get_setting"], setting).fetchone()
            assert row is not None
            self._page_token_key = bytes(row["value"])
        return self._page_token_key

    def close(self) -> None:
        """Stop listening and close every connection; later calls raise Unavailable."""
        if self._closed:
            return
        self._closed = True
        self._listener.close()
        self._pool.close()

    def _row_values(self, record: OperationRecord) -> dict[str, object]:
        return row_values(record)

    def _record_from_row(self, row: DictRow) -> OperationRecord:
        return _record_from_row(row)

    def __repr__(self) -> str:
        return f"PostgresStore({self.description!r})"


def _migrate(connection: psycopg.Connection[Any], schema: str | None) -> str:
    """Apply the missing migrations under an advisory lock; the tables' schema."""
    create_schema = schema is not None
    with connection.transaction():
        if schema is None:
            current = connection.execute(_QUERIES["current_schema"]).fetchone()
            schema = current[0] if current else None
            if schema is None:
                raise InvalidArgument("no schema to create the tables in; add ?schema=name")
        connection.execute(_QUERIES["lock_migrations"], {"schema": schema})
        if create_schema:
            connection.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
            )
        connection.execute(_QUERIES["create_migrations_table"])
        applied = {row[0] for row in connection.execute(_QUERIES["applied_migrations"])}
        for number, file_name, text in load_migrations("postgresql"):
            if number not in applied:
                connection.execute(text.encode())  # several statements: no parameters
                connection.execute(
                    _QUERIES["record_migration"],
                    {"number": number, "file_name": file_name, "applied_time_us": now_us()},
                )
        found = connection.execute(_QUERIES["operations_schema"]).fetchone()
    return str(found[0] if found else schema)


def _describe(conninfo: str, schema: str | None) -> str:
    """Where the store is, for messages: user, host, port, database; no password."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.Error as exc:
        message = redact(" ".join(str(exc).split()), conninfo)
        raise InvalidArgument(f"bad PostgreSQL connection string: {message}") from None
    user = f"{params['user']}@" if params.get("user") else ""
    host = str(params.get("host") or "localhost")
    port = f":{params['port']}" if params.get("port") else ""
    where = f"postgresql://{user}{host}{port}/{params.get('dbname') or ''}"
    return f"{where}?schema={schema}" if schema else where


def _connection_kwargs(conninfo: str, schema: str | None, origin: str) -> dict[str, Any]:
    """Autocommit, this store's origin and the schema's search path, added to ``options``."""
    params = conninfo_to_dict(conninfo)
    options = [str(params.get("options") or ""), f"-c lro.origin={origin}"]
    if schema is not None:
        options.append(f"-c search_path={schema}")
    kwargs: dict[str, Any] = {"autocommit": True, "options": " ".join(o for o in options if o)}
    if "connect_timeout" not in params:
        kwargs["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT
    return kwargs


def _lro_error(exc: psycopg.Error, context: str, conninfo: str) -> Error:
    """The lro error for a driver error, by SQLSTATE; the message has no password."""
    message = redact(f"{context}: {' '.join(str(exc).split())}", conninfo)
    sqlstate = exc.sqlstate or ""
    if sqlstate in ("40001", "40P01"):
        return Aborted(message)
    if sqlstate == "57014":
        return DeadlineExceeded(message)
    if sqlstate == "42501":
        return Error.from_code(code_pb2.PERMISSION_DENIED, message)
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError) or sqlstate.startswith(
        _UNAVAILABLE_SQLSTATE_PREFIXES
    ):
        return Unavailable(message)
    return Error.from_code(code_pb2.INTERNAL, message)


def _went_stale(connection: psycopg.Connection[DictRow]) -> bool:
    """Whether an idle connection heard from the server (such as a shutdown) or broke.

    An idle connection gets nothing unless the server ended it; checking costs one
    ``poll`` and saves a failed call after a server restart.
    """
    if connection.closed:
        return True
    poller = select.poll()  # not select.select: file numbers may pass 1024
    poller.register(connection.fileno(), select.POLLIN)
    return bool(poller.poll(0))


row_values = column_values
_record_from_row = record_from_columns
