"""Durable waits on SQLite: wake-up rows written and leased in immediate transactions."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, cast

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

    from lro._store.notify import ChangeHub

_QUERIES = load_queries("sqlite")


@contextlib.contextmanager
def _immediate(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes SQLite's write lock at once."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


class SqliteWakeups:
    """The wake-up verbs of ``SqliteStore`` (see ``lro._store.base.WakeupStore``)."""

    changes: ChangeHub

    if TYPE_CHECKING:

        def _connection(self) -> AbstractContextManager[sqlite3.Connection]: ...
        def _row_values(self, record: OperationRecord) -> dict[str, object]: ...
        def _record_from_row(self, row: sqlite3.Row) -> OperationRecord: ...

    def schedule(
        self, record: OperationRecord, expected_version: int | None, plan: WaitPlan
    ) -> tuple[OperationRecord, Wakeup]:
        """Write ``record`` and its wake-up in one transaction."""
        time_us = now_us()
        values = _plan_values(record.name, plan, time_us)
        with self._connection() as connection, _immediate(connection):
            stored = self._write_record(connection, record, expected_version, time_us)
            if plan.children and not plan.child_endpoint:
                (running,) = connection.execute(
                    _QUERIES["count_running_children"], values
                ).fetchone()
                if running:  # due at the deadline, unless the last child finishes first
                    values["due_time_us"] = values["deadline_us"]
            connection.execute(_QUERIES["forget_children"], values)
            row = connection.execute(_QUERIES["upsert_wakeup"], values).fetchone()
            if not plan.child_endpoint:
                connection.execute(_QUERIES["remember_children"], values)
        self.changes.publish(record.name)
        return stored, _wakeup_from_row(row)

    def _write_record(
        self,
        connection: sqlite3.Connection,
        record: OperationRecord,
        expected_version: int | None,
        time_us: int,
    ) -> OperationRecord:
        if expected_version is None:
            stored = record.replace(version=1, create_time_us=time_us, update_time_us=time_us)
            try:
                connection.execute(_QUERIES["insert_operation"], self._row_values(stored))
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists(f"operation {record.name!r} exists already") from exc
            return stored
        stored = record.replace(version=expected_version + 1, update_time_us=time_us)
        cursor = connection.execute(
            _QUERIES["update_operation"],
            {**self._row_values(stored), "expected_version": expected_version},
        )
        if cursor.rowcount == 0:
            if connection.execute(_QUERIES["operation_exists"], (record.name,)).fetchone():
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
        """Lease up to ``limit`` ready wake-ups, earliest due first (one statement)."""
        parameters = {
            "owner": owner,
            "now_us": now_us(),
            "lease_us": lease_us,
            "limit": limit,
            "handlers": json.dumps(sorted(handlers)),
            "pinned_to": pinned_to,
        }
        with self._connection() as connection:
            rows = connection.execute(_QUERIES["claim_wakeups"], parameters).fetchall()
        return sorted((_wakeup_from_row(row) for row in rows), key=lambda w: w.due_time_us)

    def claim_wakeup(
        self, name: str, *, owner: str, lease_us: int, pinned_to: str, handler: str
    ) -> Wakeup | None:
        """Lease the wake-up of ``name`` if it is due, free, pinned to ``pinned_to`` and
        for ``handler`` (one statement)."""
        parameters = {
            "name": name,
            "owner": owner,
            "now_us": now_us(),
            "lease_us": lease_us,
            "pinned_to": pinned_to,
            "handler": handler,
        }
        with self._connection() as connection:
            row = connection.execute(_QUERIES["claim_wakeup"], parameters).fetchone()
        return None if row is None else _wakeup_from_row(row)

    def renew_wakeups(self, tokens: Collection[str], lease_us: int) -> set[str]:
        """Extend the leases still held; returns the tokens that were."""
        if not tokens:
            return set()
        parameters = {"tokens": json.dumps(list(tokens)), "until_us": now_us() + lease_us}
        with self._connection() as connection:
            rows = connection.execute(_QUERIES["renew_wakeups"], parameters).fetchall()
        return {str(row["lease_token"]) for row in rows}

    def postpone_wakeup(self, wakeup: Wakeup, delay_us: int) -> bool:
        """Release the lease; the wake-up is due again after ``delay_us``."""
        parameters = {
            "name": wakeup.name,
            "lease_token": wakeup.lease_token,
            "due_time_us": now_us() + delay_us,
        }
        with self._connection() as connection:
            cursor = connection.execute(_QUERIES["postpone_wakeup"], parameters)
        return cursor.rowcount == 1

    def record_failure(
        self, wakeup: Wakeup, error: str, retry_delay_us: int | None
    ) -> OperationRecord | None:
        """Count a failed run on the operation; postpone the wake-up if asked."""
        key = {"name": wakeup.name, "lease_token": wakeup.lease_token}
        time_us = now_us()
        with self._connection() as connection, _immediate(connection):
            cursor = connection.execute(
                _QUERIES["count_failure"], {**key, "last_error": error, "now_us": time_us}
            )
            if cursor.rowcount == 0:
                return None
            if retry_delay_us is not None:
                connection.execute(
                    _QUERIES["postpone_wakeup"], {**key, "due_time_us": time_us + retry_delay_us}
                )
            row = connection.execute(_QUERIES["get_operation"], (wakeup.name,)).fetchone()
        self.changes.publish(wakeup.name)
        return self._record_from_row(row)

    def finish_wakeup(self, wakeup: Wakeup) -> bool:
        """Remove the wake-up if this lease still holds it."""
        key = {"name": wakeup.name, "lease_token": wakeup.lease_token}
        with self._connection() as connection:
            cursor = connection.execute(_QUERIES["finish_wakeup"], key)
        return cursor.rowcount == 1

    def release_wakeups(self, tokens: Collection[str]) -> int:
        """End the leases of ``tokens`` so that other workers may claim them now."""
        if not tokens:
            return 0
        with self._connection() as connection:
            cursor = connection.execute(
                _QUERIES["release_wakeups"], {"tokens": json.dumps(list(tokens))}
            )
        return cursor.rowcount

    def get_wakeup(self, name: str) -> Wakeup | None:
        """The pending wake-up of operation ``name``, if any."""
        with self._connection() as connection:
            row = connection.execute(_QUERIES["get_wakeup"], (name,)).fetchone()
        return None if row is None else _wakeup_from_row(row)

    def unserved_handlers(self, handlers: Collection[str], overdue_us: int) -> set[str]:
        """Handlers other than ``handlers`` that overdue, unleased wake-ups wait for."""
        time_us = now_us()
        parameters = {
            "now_us": time_us,
            "before_us": time_us - overdue_us,
            "handlers": json.dumps(sorted(handlers)),
            "limit": UNSERVED_HANDLERS_LIMIT,
        }
        with self._connection() as connection:
            rows = connection.execute(_QUERIES["unserved_handlers"], parameters).fetchall()
        return {str(row["target"]) for row in rows}


def _plan_values(name: str, plan: WaitPlan, time_us: int) -> dict[str, object]:
    ready_time_us = time_us + plan.sleep_us
    return {
        "name": name,
        "due_time_us": ready_time_us,
        "ready_time_us": ready_time_us,
        "deadline_us": ready_time_us + plan.timeout_us,
        "children": json.dumps(list(plan.children)),
        "child_endpoint": plan.child_endpoint,
        "poll_frequency_us": plan.poll_frequency_us,
        "target_kind": plan.target_kind,
        "target": plan.target,
        "target_endpoint": plan.target_endpoint,
        "pinned_to": plan.pinned_to,
        "schedule_time_us": time_us,
    }


def _wakeup_from_row(row: sqlite3.Row) -> Wakeup:
    return Wakeup(
        name=str(row["name"]),
        target_kind=cast(TargetKind, str(row["target_kind"])),
        target=str(row["target"]),
        due_time_us=int(row["due_time_us"]),
        deadline_us=int(row["deadline_us"]),
        poll_frequency_us=int(row["poll_frequency_us"]),
        children=tuple(json.loads(row["children"])),
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
