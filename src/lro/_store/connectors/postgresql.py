"""The PostgreSQL connector: a psycopg pool, migrations under a lock, LISTEN/NOTIFY.

Every query outside a transaction is one autocommitted statement. A trigger announces
each change that can end a wait with NOTIFY; ``listen`` turns the announcements of
other stores into publishes on the store's hub, so waiters in every process see a
change at once.
"""

from __future__ import annotations

import contextlib
import select
import time
import uuid
from typing import Any

import psycopg
from google.rpc import code_pb2
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from lro._core.errors import Error, InvalidArgument, Unavailable
from lro._core.filters import OPERATION_COLUMNS, SqlDialect
from lro._store.base import now_us
from lro._store.connectors.base import Dialect, DriverQueries, query_texts
from lro._store.driver_errors import store_error
from lro._store.notify import ChangeHub
from lro._store.postgres_listener import ChangeListener
from lro._store.postgres_settings import (
    DEFAULT_POOL_MAX_SIZE,
    DEFAULT_POOL_TIMEOUT,
    check_settings,
    redact,
)
from lro._store.queries import load_migrations

POSTGRES_DIALECT = Dialect(
    filters=SqlDialect(placeholder="%({})s", columns=OPERATION_COLUMNS),
    names=list,
    names_from=tuple,
    database_clock=True,
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
# By SQLSTATE: exact codes first, then classes (the first two characters).
_SQLSTATES = {
    "40001": code_pb2.ABORTED,  # serialization_failure
    "40P01": code_pb2.ABORTED,  # deadlock_detected
    "57014": code_pb2.DEADLINE_EXCEEDED,  # query_canceled
    "42501": code_pb2.PERMISSION_DENIED,  # insufficient_privilege
    "23505": code_pb2.ALREADY_EXISTS,  # unique_violation
    "XX001": code_pb2.DATA_LOSS,  # data_corrupted
    "XX002": code_pb2.DATA_LOSS,  # index_corrupted
    "57P": code_pb2.UNAVAILABLE,  # operator intervention: shutdown, cannot connect now
}
_SQLSTATE_CLASSES = {
    "08": code_pb2.UNAVAILABLE,  # connection exception
    "22": code_pb2.INVALID_ARGUMENT,  # data exception
    "28": code_pb2.UNAUTHENTICATED,  # invalid authorization specification
    "53": code_pb2.UNAVAILABLE,  # insufficient resources
    "58": code_pb2.UNAVAILABLE,  # system error (I/O)
}


def postgres_code(exc: psycopg.Error) -> int:
    """The ``google.rpc.Code`` of a psycopg error, by its SQLSTATE."""
    sqlstate = exc.sqlstate or ""
    code = _SQLSTATES.get(sqlstate) or _SQLSTATES.get(sqlstate[:3])
    if code is None:
        code = _SQLSTATE_CLASSES.get(sqlstate[:2])
    if code is None and isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        code = code_pb2.UNAVAILABLE  # no SQLSTATE: the connection failed or broke
    return code if code is not None else code_pb2.INTERNAL


class PostgresConnector(DriverQueries[psycopg.Connection[DictRow]]):
    """Named queries on a PostgreSQL database, shared by any number of processes.

    Args:
        conninfo: a libpq connection string or ``postgresql://`` URL.
        schema: keep the tables in this schema (created if missing) instead of the
            connection's current schema.
        pool_max_size: most connections this store opens for its calls.
        pool_timeout: seconds a call waits for a free connection before it fails
            with Unavailable.
    """

    driver_error = psycopg.Error
    dialect = POSTGRES_DIALECT

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
        self.pool_timeout = pool_timeout
        self._sql = query_texts("postgresql")
        self._closed = False
        self._listener: ChangeListener | None = None
        self._kwargs = _connection_kwargs(conninfo, schema, self.origin)
        self._first: psycopg.Connection[Any] | None = self._migrate_and_listen(schema)
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

    def __repr__(self) -> str:
        return f"PostgresConnector({self.description!r})"

    def listen(self, hub: ChangeHub) -> None:
        """Publish into ``hub`` the changes other stores announce on the schema's channel."""
        if self._listener is None and self._first is not None:
            first, self._first = self._first, None
            self._listener = ChangeListener(
                first,
                lambda: self._connect_listening(self.channel),
                channel=self.channel,
                origin=self.origin,
                hub=hub,
            )

    def close(self) -> None:
        """Stop listening and close every connection; later calls raise Unavailable."""
        if self._closed:
            return
        self._closed = True
        if self._listener is not None:
            self._listener.close()
        if self._first is not None:
            self._first.close()
        self._pool.close()

    def _translate(self, exc: Exception, action: str) -> Error:
        assert isinstance(exc, psycopg.Error)
        detail = redact(" ".join(str(exc).split()), self._conninfo)
        return store_error(postgres_code(exc), f"PostgreSQL {self.description}", action, detail)

    def _begin(
        self, connection: psycopg.Connection[DictRow]
    ) -> contextlib.AbstractContextManager[object]:
        return connection.transaction()

    def _checkout(self) -> psycopg.Connection[DictRow]:
        """A live pooled connection; Unavailable soon when the server is known down."""
        if self._closed:
            raise Unavailable("the store is closed")
        deadline = time.monotonic() + self.pool_timeout
        while True:
            try:
                connection = self._pool.getconn(timeout=CHECKOUT_SLICE)
            except PoolTimeout:
                self._raise_if_unreachable(deadline)
                continue
            if not _went_stale(connection):
                return connection
            connection.close()  # the pool replaces it
            self._pool.putconn(connection)

    def _raise_if_unreachable(self, deadline: float) -> None:
        """Unavailable when the listener has lost the server, or the wait ran out."""
        outage = self._listener.outage if self._listener is not None else None
        if outage is not None:
            raise store_error(
                code_pb2.UNAVAILABLE, f"PostgreSQL {self.description}", "connect", outage
            )
        if time.monotonic() >= deadline:
            raise Unavailable(
                f"no free connection within {self.pool_timeout:g}s "
                f"(pool_max_size={self._pool.max_size})"
            )

    def _checkin(self, connection: psycopg.Connection[DictRow]) -> None:
        self._pool.putconn(connection)

    def _migrate_and_listen(self, schema: str | None) -> psycopg.Connection[Any]:
        """Bring the schema up to date, then listen on its channel, on one connection."""
        with self._translated("open"):
            first = self._connect_listening(channel=None)
            try:
                self.schema = self._migrate(first, schema)
                self.channel = CHANNEL_PREFIX + self.schema
                first.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            except BaseException:
                first.close()
                raise
        return first

    def _connect_listening(self, channel: str | None) -> psycopg.Connection[Any]:
        connection = psycopg.connect(self._conninfo, **self._kwargs, **_LISTENER_KEEPALIVES)
        if channel is not None:
            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        return connection

    def _migrate(self, connection: psycopg.Connection[Any], schema: str | None) -> str:
        """Apply the missing migrations under an advisory lock; the tables' schema."""
        queries = self._sql
        with connection.transaction():
            tables_in = schema or _current_schema(connection, queries["current_schema"])
            connection.execute(queries["lock_migrations"], {"schema": tables_in})
            if schema is not None:
                connection.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                )
            connection.execute(queries["create_migrations_table"])
            applied = {row[0] for row in connection.execute(queries["applied_migrations"])}
            for number, file_name, text in load_migrations("postgresql"):
                if number not in applied:
                    connection.execute(text.encode())  # several statements: no parameters
                    connection.execute(
                        queries["record_migration"],
                        {"number": number, "file_name": file_name, "applied_time_us": now_us()},
                    )
            found = connection.execute(queries["operations_schema"]).fetchone()
        return str(found[0] if found else tables_in)


def _current_schema(connection: psycopg.Connection[Any], query: str) -> str:
    current = connection.execute(query).fetchone()
    if not current or current[0] is None:
        raise InvalidArgument("no schema to create the tables in; add ?schema=name")
    return str(current[0])


def _describe(conninfo: str, schema: str | None) -> str:
    """Where the store is, for logs: user, host, port, database; no password."""
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
