"""One store for SQLite and PostgreSQL: the verbs written once, over a connector.

The store decides what to run; the connector (``lro._store.connectors``) runs the
backend's named queries, holds its connections and transactions, listens for other
processes' changes and turns driver errors into ``lro.Error``. Every write is a
compare-and-set on the version column, and publishes the name on ``changes``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
from collections.abc import Collection
from pathlib import Path

from lro._core.clock import SYSTEM_CLOCK, Clock, SystemClock
from lro._core.errors import Aborted, AlreadyExists, Error, NotFound
from lro._core.filters import compile_filter
from lro._core.listing import ListQuery, keyset_parameters
from lro._core.names import collection_of
from lro._store.base import (
    UNSERVED_HANDLERS_LIMIT,
    DuplicateRequest,
    OperationRecord,
    PurgeQuery,
    StaleVersion,
    WaitPlan,
    Wakeup,
    purge_conditions,
)
from lro._store.connectors.base import Connector, Queries
from lro._store.mappings import (
    ColumnRow,
    column_values,
    listed_from_columns,
    local_children,
    planned_wakeup,
    record_from_columns,
    stamped,
    wakeup_from_columns,
    wakeup_values,
)
from lro._store.notify import ChangeHub
from lro._store.postgres_settings import DEFAULT_POOL_MAX_SIZE, DEFAULT_POOL_TIMEOUT
from lro._store.sqlite_watch import DEFAULT_CHANGE_POLL_INTERVAL

PAGE_TOKEN_KEY_SETTING = "page_token_key"  # noqa: S105 (a setting name, not a secret)


class SqlStore:
    """Operations, and their durable waits, in a SQL database reached through ``connector``.

    ``clock`` gives the times written (create and update times, due times, leases). On
    a dialect with ``database_clock`` and the system clock, wake-up times come from the
    database's clock instead, so that workers on several machines agree on them.
    """

    def __init__(self, connector: Connector, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.connector = connector
        self.clock = clock
        self._database_clock = connector.dialect.database_clock and isinstance(clock, SystemClock)
        self.changes = ChangeHub()
        self._names = connector.dialect.names
        self._names_from = connector.dialect.names_from
        self._page_token_key: bytes | None = None
        connector.listen(self.changes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.connector!r})"

    def close(self) -> None:
        """Close every connection; later calls raise Unavailable."""
        self.connector.close()

    # Operations ------------------------------------------------------------------------

    def create(self, record: OperationRecord) -> OperationRecord:
        """Insert ``record`` at version 1; AlreadyExists if the name is taken,
        DuplicateRequest if its request id was used before in its collection."""
        stored = self._write(self.connector, record, None, self.clock.now_us())
        self.changes.publish(record.name)
        return stored

    def update(self, record: OperationRecord, expected_version: int) -> OperationRecord:
        """Write ``record`` if the stored version is ``expected_version``.

        Returns the record as stored (version + 1). Raises StaleVersion if another
        write came first, NotFound if the record is gone.
        """
        stored = self._write(self.connector, record, expected_version, self.clock.now_us())
        self.changes.publish(record.name)
        return stored

    def _write(
        self, db: Queries, record: OperationRecord, expected_version: int | None, time_us: int
    ) -> OperationRecord:
        """Insert (``expected_version`` None) or compare-and-set ``record`` in ``db``."""
        stored = stamped(record, expected_version, time_us)
        values = column_values(stored)
        if expected_version is None:
            if db.execute("insert_operation", **values) == 0:
                raise _insert_refusal(db, record)
        elif db.execute("update_operation", expected_version=expected_version, **values) == 0:
            if db.one("operation_exists", name=record.name) is None:
                raise NotFound(record.name)
            raise StaleVersion(f"operation {record.name!r} changed concurrently")
        return stored

    def get(self, name: str) -> OperationRecord:
        """The record called ``name``; NotFound if none."""
        row = self.connector.one("get_operation", name=name)
        if row is None:
            raise NotFound(name)
        return record_from_columns(row)

    def get_many(self, names: Collection[str]) -> dict[str, OperationRecord]:
        """The records that exist among ``names``, by name."""
        if not names:
            return {}
        rows = self.connector.all("get_operations", names=self._names(list(names)))
        return {str(row["name"]): record_from_columns(row) for row in rows}

    def delete(self, name: str) -> None:
        """Remove ``name`` (and its wake-up); NotFound if none."""
        if self.connector.execute("delete_operation", name=name) == 0:
            raise NotFound(name)
        self.changes.publish(name)

    def list_page(self, query: ListQuery) -> list[OperationRecord]:
        """One keyset page of ``query``, in (create time, name) order."""
        compiled = compile_filter(query.filter, self.connector.dialect.filters)
        rows = self.connector.all(
            "list_operations",
            filter_sql=compiled.sql,
            **compiled.params,
            **keyset_parameters(query),
        )
        return [listed_from_columns(row) for row in rows]

    def page_token_key(self) -> bytes:
        """The key that signs page tokens: made once, kept in the database.

        Read only, where the schema made it (SQLite); else made by the first to ask.
        """
        if self._page_token_key is None:
            row = self.connector.one("get_setting", name=PAGE_TOKEN_KEY_SETTING)
            if row is None:
                setting = {"name": PAGE_TOKEN_KEY_SETTING, "value": secrets.token_bytes(32)}
                self.connector.execute("insert_setting", **setting)
                row = self.connector.one("get_setting", name=PAGE_TOKEN_KEY_SETTING)
            assert row is not None
            self._page_token_key = bytes(row["value"])
        return self._page_token_key

    # Retention (see lro._store.base.PurgingStore) -------------------------------------

    def purge_batch(self, query: PurgeQuery) -> int:
        """Delete up to ``query.limit`` of the operations ``query`` selects (one
        statement, its own transaction); how many went."""
        return len(self._select_purgeable("purge_operations", query, limit=query.limit))

    def count_purgeable(self, query: PurgeQuery) -> int:
        """How many operations ``query`` selects now."""
        rows = self._select_purgeable("count_purgeable", query)
        return int(rows[0]["purgeable"]) if rows else 0

    def _select_purgeable(
        self, query_name: str, query: PurgeQuery, **extra: object
    ) -> list[ColumnRow]:
        compiled = purge_conditions(query, self.connector.dialect.filters)
        return self.connector.all(
            query_name,
            filter_sql=compiled.sql,
            **compiled.params,
            before_us=query.before_us,
            **extra,
        )

    # Durable waits (see lro._store.base.WakeupStore) -----------------------------------

    def schedule(
        self, record: OperationRecord, expected_version: int | None, plan: WaitPlan
    ) -> tuple[OperationRecord, Wakeup]:
        """Write ``record`` and its wake-up in one transaction.

        The children in this store are counted in that transaction, which keeps a
        child from finishing unseen meanwhile (SQLite: the one write lock; PostgreSQL:
        the query's ``FOR SHARE``), so the wake-up is due at once or the last child's
        finish brings it forward.
        """
        children = local_children(plan)
        with self.connector.transaction() as db:
            stored = self._write(db, record, expected_version, self.clock.now_us())
            running = 0
            if children:
                found = db.one("lock_running_children", children=self._names(children))
                running = int(found["running"]) if found is not None else 0
            wakeup = planned_wakeup(record.name, plan, self._clock(db))
            if running:  # due at the deadline, unless the last child finishes first
                wakeup = dataclasses.replace(wakeup, due_time_us=wakeup.deadline_us)
            values = wakeup_values(wakeup)
            values["children"] = self._names(values["children"])
            db.execute("forget_children", name=record.name)
            row = db.one("upsert_wakeup", **values, running_children=running)
            if children:
                db.execute("remember_children", name=record.name, children=self._names(children))
        self.changes.publish(record.name)
        assert row is not None
        return stored, self._wakeup(row)

    def _clock(self, db: Queries) -> int:
        """Now, in microseconds: the database's clock if it is the one (see the class)."""
        if self._database_clock:
            row = db.one("now_us")
            if row is not None:
                return int(row["now_us"])
        return self.clock.now_us()

    def _now(self) -> int | None:
        """Now for a wake-up query: None asks the query for the database's clock."""
        return None if self._database_clock else self.clock.now_us()

    def _wakeup(self, row: ColumnRow) -> Wakeup:
        return wakeup_from_columns(row, self._names_from)

    def claim_wakeups(
        self,
        owner: str,
        *,
        lease_us: int,
        limit: int,
        handlers: Collection[str],
        pinned_to: str,
    ) -> list[Wakeup]:
        """Lease up to ``limit`` ready wake-ups, earliest due first (one statement)."""
        rows = self.connector.all(
            "claim_wakeups",
            owner=owner,
            now_us=self._now(),
            lease_us=lease_us,
            limit=limit,
            handlers=self._names(sorted(handlers)),
            pinned_to=pinned_to,
        )
        return sorted((self._wakeup(row) for row in rows), key=lambda w: w.due_time_us)

    def claim_wakeup(
        self, name: str, *, owner: str, lease_us: int, pinned_to: str, handler: str
    ) -> Wakeup | None:
        """Lease the wake-up of ``name`` if it is due, free, pinned to ``pinned_to`` and
        for ``handler`` (one statement)."""
        row = self.connector.one(
            "claim_wakeup",
            name=name,
            owner=owner,
            now_us=self._now(),
            lease_us=lease_us,
            pinned_to=pinned_to,
            handler=handler,
        )
        return None if row is None else self._wakeup(row)

    def renew_wakeups(self, tokens: Collection[str], lease_us: int) -> set[str]:
        """Extend the leases still held; returns the tokens that were."""
        if not tokens:
            return set()
        rows = self.connector.all(
            "renew_wakeups", tokens=self._names(list(tokens)), now_us=self._now(), lease_us=lease_us
        )
        return {str(row["lease_token"]) for row in rows}

    def postpone_wakeup(self, wakeup: Wakeup, delay_us: int) -> bool:
        """Release the lease; the wake-up is due again after ``delay_us``."""
        postponed = self.connector.execute(
            "postpone_wakeup", **_lease(wakeup), now_us=self._now(), delay_us=delay_us
        )
        return postponed == 1

    def record_failure(
        self, wakeup: Wakeup, error: str, retry_delay_us: int | None
    ) -> OperationRecord | None:
        """Count a failed run on the operation; postpone the wake-up if asked."""
        key = _lease(wakeup)
        time_us = self._now()
        with self.connector.transaction() as db:
            if db.execute("count_failure", **key, last_error=error, now_us=time_us) == 0:
                return None
            if retry_delay_us is not None:
                db.execute("postpone_wakeup", **key, now_us=time_us, delay_us=retry_delay_us)
            row = db.one("get_operation", name=wakeup.name)
        self.changes.publish(wakeup.name)
        assert row is not None
        return record_from_columns(row)

    def finish_wakeup(self, wakeup: Wakeup) -> bool:
        """Remove the wake-up if this lease still holds it."""
        return self.connector.execute("finish_wakeup", **_lease(wakeup)) == 1

    def release_wakeups(self, tokens: Collection[str]) -> int:
        """End the leases of ``tokens`` so that other workers may claim them now."""
        if not tokens:
            return 0
        return self.connector.execute("release_wakeups", tokens=self._names(list(tokens)))

    def get_wakeup(self, name: str) -> Wakeup | None:
        """The pending wake-up of operation ``name``, if any."""
        row = self.connector.one("get_wakeup", name=name)
        return None if row is None else self._wakeup(row)

    def unserved_handlers(self, handlers: Collection[str], overdue_us: int) -> set[str]:
        """Handlers other than ``handlers`` that overdue, unleased wake-ups wait for."""
        rows = self.connector.all(
            "unserved_handlers",
            handlers=self._names(sorted(handlers)),
            now_us=self._now(),
            overdue_us=overdue_us,
            limit=UNSERVED_HANDLERS_LIMIT,
        )
        return {str(row["target"]) for row in rows}


def _insert_refusal(db: Queries, record: OperationRecord) -> Error:
    """Why ``record`` was not inserted: its request id was used before (the insert
    waited for that writer's commit), or its name is taken."""
    if record.request_id:
        found = db.one(
            "operation_by_request",
            collection=collection_of(record.name),
            request_id=record.request_id,
        )
        if found is not None:
            return DuplicateRequest(str(found["name"]))
        if db.one("operation_exists", name=record.name) is None:  # deleted meanwhile
            return Aborted(f"operation {record.name!r} raced a delete; try again")
    return AlreadyExists(f"operation {record.name!r} exists already")


def _lease(wakeup: Wakeup) -> dict[str, str]:
    return {"name": wakeup.name, "lease_token": wakeup.lease_token}


class SqliteStore(SqlStore):
    """Operations in a SQLite file, in WAL mode, every update a compare-and-set.

    Changes made by other processes (or other stores on the same file) wake this
    store's waiters within ``change_poll_interval`` seconds; 0 turns that watch off.
    ``clock`` gives every time written (``lro.testing`` passes its fake clock).
    ``mode`` opens the file as SQLite's URIs say: ``"rwc"`` (created if missing),
    ``"rw"`` (it must exist) or ``"ro"`` (read-only: reads work, writes raise
    FailedPrecondition).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 5000,
        max_connections: int = 8,
        change_poll_interval: float = DEFAULT_CHANGE_POLL_INTERVAL,
        clock: Clock = SYSTEM_CLOCK,
        mode: str = "rwc",
    ) -> None:
        from lro._store.connectors.sqlite import SqliteConnector

        connector = SqliteConnector(
            path,
            synchronous=synchronous,
            busy_timeout_ms=busy_timeout_ms,
            max_connections=max_connections,
            change_poll_interval=change_poll_interval,
            mode=mode,
        )
        self.path = connector.path
        self.synchronous = connector.synchronous
        self._sqlite = connector
        super().__init__(connector, clock=clock)

    def exclusive_writes(self) -> contextlib.AbstractContextManager[None]:
        """Hold this process's write lock on the file (``lro._store.turns.QueuedWriters``):
        this thread's writes go on, the other threads' wait, whatever store they use."""
        return self._sqlite.writing("exclusive_writes")


class PostgresStore(SqlStore):
    """Operations in a PostgreSQL database, shared by any number of processes.

    The arguments are those of ``lro._store.connectors.postgresql.PostgresConnector``:
    ``conninfo`` (a libpq string or ``postgresql://`` URL), ``schema`` (created if
    missing), ``pool_max_size`` and ``pool_timeout`` (seconds to wait for a connection).
    """

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str | None = None,
        pool_max_size: int = DEFAULT_POOL_MAX_SIZE,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        from lro._store.connectors.postgresql import PostgresConnector  # the postgres extra

        connector = PostgresConnector(
            conninfo, schema=schema, pool_max_size=pool_max_size, pool_timeout=pool_timeout
        )
        self.description = connector.description
        self.schema = connector.schema
        super().__init__(connector, clock=clock)
