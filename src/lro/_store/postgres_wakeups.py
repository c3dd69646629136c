"""Durable waits on PostgreSQL: wake-ups leased with ``FOR UPDATE SKIP LOCKED``.

The wake-up times come from the database's clock, so that workers on several machines
agree on them.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any, cast

from lro._core.errors import AlreadyExists, NotFound
from lro._store.base import (
    UNSERVED_HANDLERS_LIMIT,
    OperationRecord,
    StaleVersion,
    TargetKind,
    WaitPlan,
    Wakeup,
    now_us,
)
from lro._store.queries import load_queries

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import psycopg
    from psycopg.rows import DictRow

    from lro._store.notify import ChangeHub

_QUERIES = load_queries("postgresql")
_WAKEUPS = load_queries("postgresql", "wakeups.sql")


class PostgresWakeups:
    """The wake-up verbs of ``PostgresStore`` (see ``lro._store.base.WakeupStore``)."""

    changes: ChangeHub

    if TYPE_CHECKING:

        def _connection(
            self, action: str
        ) -> AbstractContextManager[psycopg.Connection[DictRow]]: ...
        def _row_values(self, record: OperationRecord) -> dict[str, object]: ...
        def _record_from_row(self, row: DictRow) -> OperationRecord: ...

    def schedule(
        self, record: OperationRecord, expected_version: int | None, plan: WaitPlan
    ) -> tuple[OperationRecord, Wakeup]:
        """Write ``record`` and its wake-up in one transaction."""
        local_children = list(plan.children) if not plan.child_endpoint else []
        with (
            self._connection(f"cannot schedule {record.name!r}") as connection,
            connection.transaction(),
        ):
            stored = self._write_record(connection, record, expected_version)
            running = 0
            if local_children:  # locks them: a finish now waits, or is seen (see the SQL)
                found = connection.execute(
                    _WAKEUPS["lock_running_children"], {"children": local_children}
                ).fetchone()
                running = int(found["running"]) if found else 0
            clock = connection.execute(_WAKEUPS["now_us"]).fetchone()
            values = _plan_values(record.name, plan, int(clock["now_us"]) if clock else now_us())
            if running:  # due at the deadline, unless the last child finishes first
                values.update(due_time_us=values["deadline_us"], running_children=running)
            connection.execute(_WAKEUPS["forget_children"], values)
            row = connection.execute(_WAKEUPS["upsert_wakeup"], values).fetchone()
            connection.execute(
                _WAKEUPS["remember_children"], {**values, "children": local_children}
            )
        self.changes.publish(record.name)
        return stored, _wakeup_from_row(cast("DictRow", row))

    def _write_record(
        self, connection: psycopg.Connection[DictRow], record: OperationRecord, expected: int | None
    ) -> OperationRecord:
        time_us = now_us()
        if expected is None:
            stored = record.replace(version=1, create_time_us=time_us, update_time_us=time_us)
            cursor = connection.execute(_QUERIES["insert_operation"], self._row_values(stored))
            if cursor.rowcount == 0:
                raise AlreadyExists(f"operation {record.name!r} exists already")
            return stored
        stored = record.replace(version=expected + 1, update_time_us=time_us)
        values = {**self._row_values(stored), "expected_version": expected}
        if connection.execute(_QUERIES["update_operation"], values).rowcount == 0:
            if connection.execute(_QUERIES["operation_exists"], {"name": record.name}).fetchone():
                raise StaleVersion(f"operation {record.name!r} changed concurrently")
            raise NotFound(record.name)
        return stored

    def claim_wakeups(
        self,
        owner: str,
        *,
        lease_us: int,
        limit: int,
        handlers: Collection[str],
        pinned_to: str,
    ) -> list[Wakeup]:
        """Lease up to ``limit`` due wake-ups, earliest first (one statement)."""
        parameters = {
            "owner": owner,
            "lease_us": lease_us,
            "limit": limit,
            "handlers": sorted(handlers),
            "pinned_to": pinned_to,
        }
        with self._connection("cannot claim wake-ups") as connection:
            rows = connection.execute(_WAKEUPS["claim_wakeups"], parameters).fetchall()
        return sorted((_wakeup_from_row(row) for row in rows), key=lambda w: w.due_time_us)

    def claim_wakeup(
        self, name: str, *, owner: str, lease_us: int, pinned_to: str, handler: str
    ) -> Wakeup | None:
        """Lease the wake-up of ``name`` if it is due, free, pinned to ``pinned_to`` and
        for ``handler`` (one statement)."""
        parameters = {
            "name": name,
            "owner": owner,
            "lease_us": lease_us,
            "pinned_to": pinned_to,
            "handler": handler,
        }
        with self._connection(f"cannot claim the wake-up of {name!r}") as connection:
            row = connection.execute(_WAKEUPS["claim_wakeup"], parameters).fetchone()
        return None if row is None else _wakeup_from_row(row)

    def renew_wakeups(self, tokens: Collection[str], lease_us: int) -> set[str]:
        """Extend the leases still held; returns the tokens that were."""
        if not tokens:
            return set()
        with self._connection("cannot renew leases") as connection:
            rows = connection.execute(
                _WAKEUPS["renew_wakeups"], {"tokens": list(tokens), "lease_us": lease_us}
            ).fetchall()
        return {str(row["lease_token"]) for row in rows}

    def postpone_wakeup(self, wakeup: Wakeup, delay_us: int) -> bool:
        """Release the lease; the wake-up is due again after ``delay_us``."""
        with self._connection(f"cannot postpone {wakeup.name!r}") as connection:
            cursor = connection.execute(
                _WAKEUPS["postpone_wakeup"], {**_key(wakeup), "delay_us": delay_us}
            )
        return cursor.rowcount == 1

    def record_failure(
        self, wakeup: Wakeup, error: str, retry_delay_us: int | None
    ) -> OperationRecord | None:
        """Count a failed run on the operation; postpone the wake-up if asked."""
        with (
            self._connection(f"cannot record a failure of {wakeup.name!r}") as connection,
            connection.transaction(),
        ):
            cursor = connection.execute(
                _WAKEUPS["count_failure"], {**_key(wakeup), "last_error": error}
            )
            if cursor.rowcount == 0:
                return None
            if retry_delay_us is not None:
                connection.execute(
                    _WAKEUPS["postpone_wakeup"], {**_key(wakeup), "delay_us": retry_delay_us}
                )
            row = connection.execute(_QUERIES["get_operation"], {"name": wakeup.name}).fetchone()
        self.changes.publish(wakeup.name)
        return self._record_from_row(cast("DictRow", row))

    def finish_wakeup(self, wakeup: Wakeup) -> bool:
        """Remove the wake-up if this lease still holds it."""
        with self._connection(f"cannot finish the wake-up of {wakeup.name!r}") as connection:
            cursor = connection.execute(_WAKEUPS["finish_wakeup"], _key(wakeup))
        return cursor.rowcount == 1

    def release_wakeups(self, tokens: Collection[str]) -> int:
        """End the leases of ``tokens`` so that other workers may claim them now."""
        if not tokens:
            return 0
        with self._connection("cannot release leases") as connection:
            cursor = connection.execute(_WAKEUPS["release_wakeups"], {"tokens": list(tokens)})
        return cursor.rowcount

    def get_wakeup(self, name: str) -> Wakeup | None:
        """The pending wake-up of operation ``name``, if any."""
        with self._connection(f"cannot read the wake-up of {name!r}") as connection:
            row = connection.execute(_WAKEUPS["get_wakeup"], {"name": name}).fetchone()
        return None if row is None else _wakeup_from_row(row)

    def unserved_handlers(self, handlers: Collection[str], overdue_us: int) -> set[str]:
        """Handlers other than ``handlers`` that overdue, unleased wake-ups wait for."""
        parameters = {
            "handlers": sorted(handlers),
            "overdue_us": overdue_us,
            "limit": UNSERVED_HANDLERS_LIMIT,
        }
        with self._connection("cannot read the waiting handlers") as connection:
            rows = connection.execute(_WAKEUPS["unserved_handlers"], parameters).fetchall()
        return {str(row["target"]) for row in rows}


def _key(wakeup: Wakeup) -> dict[str, object]:
    return {"name": wakeup.name, "lease_token": wakeup.lease_token}


def _plan_values(name: str, plan: WaitPlan, time_us: int) -> dict[str, object]:
    ready_time_us = time_us + plan.sleep_us
    return {
        "name": name,
        "due_time_us": ready_time_us,
        "ready_time_us": ready_time_us,
        "deadline_us": ready_time_us + plan.timeout_us,
        "children": list(plan.children),
        "child_endpoint": plan.child_endpoint,
        "poll_frequency_us": plan.poll_frequency_us,
        "target_kind": plan.target_kind,
        "target": plan.target,
        "target_endpoint": plan.target_endpoint,
        "pinned_to": plan.pinned_to,
        "schedule_time_us": time_us,
        "running_children": 0,
    }


def _wakeup_from_row(row: Any) -> Wakeup:
    return Wakeup(
        name=str(row["name"]),
        target_kind=cast(TargetKind, str(row["target_kind"])),
        target=str(row["target"]),
        due_time_us=int(row["due_time_us"]),
        deadline_us=int(row["deadline_us"]),
        poll_frequency_us=int(row["poll_frequency_us"]),
        children=tuple(row["children"]),
        child_endpoint=str(row["child_endpoint"]),
        target_endpoint=str(row["target_endpoint"]),
        pinned_to=str(row["pinned_to"]),
        schedule_time_us=int(row["schedule_time_us"]),
        ready_time_us=int(row["ready_time_us"]),
        lease_owner=str(row["lease_owner"]),
        lease_token=str(row["lease_token"]),
        lease_expires_us=int(row["lease_expires_us"]),
        claims=int(row["claims"]),
    )
