"""Durable waits on Spanner: wake-up rows written and leased in read-write transactions.

Spanner has no triggers, so what they do on SQLite and PostgreSQL is done here, in the
store's own transactions: an operation that finishes or goes loses its wake-up, and a
finishing child makes the waits of its parents due once all their children are done.
Wake-ups live in lro's own schema only; on a Go package's table durable waits are
refused (its rows have no room for the resumer's attempts and errors).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any, cast

from google.cloud.spanner_v1 import KeyRange, KeySet, param_types

from lro._core.clock import Clock
from lro._core.errors import Aborted, AlreadyExists, FailedPrecondition
from lro._store.base import (
    UNSERVED_HANDLERS_LIMIT,
    OperationRecord,
    StaleVersion,
    WaitPlan,
    Wakeup,
)
from lro._store.mappings import (
    WAKEUP_COLUMNS,
    local_children,
    planned_wakeup,
    stamped,
    wakeup_from_columns,
    wakeup_values,
)
from lro._store.queries import load_queries
from lro._store.spanner_layouts import OWN_TABLE, Layout, OwnLayout
from lro._store.spanner_requests import check_request_in

if TYPE_CHECKING:
    from lro._store.notify import ChangeHub

_WAKEUPS = load_queries("spanner", "wakeups.sql")
WAKEUPS_TABLE = "lro_wakeups"
CHILDREN_TABLE = "lro_wakeup_children"
_LEASE_COLUMNS = ["name", "lease_owner", "lease_token", "lease_expires_us", "claims"]
_STRINGS = param_types.Array(param_types.STRING)  # type: ignore[no-untyped-call]
_KEY_TYPES = {"name": param_types.STRING, "lease_token": param_types.STRING}
# A claim is a poll: one that Spanner keeps aborting gives up (nothing is claimed until it
# commits) and the next poll tries again, so that no claim holds up a worker's stop.
CLAIM_TIMEOUT = 5.0
# Leases are given back at a worker's stop; if that cannot commit soon, they run out.
RELEASE_TIMEOUT = 5.0
logger = logging.getLogger("lro.store")
GO_TABLE_REFUSAL = (
    "durable waits (resume_at) need lro's own Spanner schema: a Go package's table has "
    "no room for wake-ups; open the store without table= to use them"
)


class TransactionGaveUp(Aborted):
    """Spanner aborted the transaction until its deadline; nothing of it was written."""


class SpannerWakeups:
    """The wake-up verbs of ``SpannerStore`` (see ``lro._store.base.WakeupStore``)."""

    changes: ChangeHub
    clock: Clock
    _layout: Layout

    if TYPE_CHECKING:

        def _run_in_transaction(
            self, work: Callable[[Any], object], within: float | None = None
        ) -> Any: ...
        def _read_in(self, transaction: Any, name: str) -> OperationRecord: ...
        def _snapshot_read(
            self, table: str, columns: list[str], keys: KeySet
        ) -> list[Sequence[Any]]: ...
        def _snapshot_query(
            self, sql: str, params: dict[str, Any], types: dict[str, Any]
        ) -> list[Sequence[Any]]: ...

    @property
    def wakeups_refused(self) -> str:
        """Why this store keeps no wake-ups (a Go package's table), or empty."""
        return "" if isinstance(self._layout, OwnLayout) else GO_TABLE_REFUSAL

    def _require_wakeups(self) -> None:
        if self.wakeups_refused:
            raise FailedPrecondition(self.wakeups_refused)

    def schedule(
        self, record: OperationRecord, expected_version: int | None, plan: WaitPlan
    ) -> tuple[OperationRecord, Wakeup]:
        """Write ``record`` and its wake-up in one transaction."""
        self._require_wakeups()
        time_us = self.clock.now_us()
        stored = stamped(record, expected_version, time_us)
        children_here = local_children(plan)

        def write(transaction: Any) -> Wakeup:
            self._write_record_in(transaction, stored, expected_version)
            wakeup = planned_wakeup(record.name, plan, time_us)
            if children_here and _running_children(transaction, children_here):
                # due at the deadline, unless the last child finishes first
                wakeup = _with(wakeup, due_time_us=wakeup.deadline_us)
            previous = _read_wakeup(transaction, record.name)
            if previous is not None:
                _forget_children(transaction, previous)
                wakeup = _with(wakeup, claims=previous.claims)
            transaction.insert_or_update(WAKEUPS_TABLE, WAKEUP_COLUMNS, [_wakeup_values(wakeup)])
            if children_here:
                rows = [(child, record.name) for child in children_here]
                transaction.insert_or_update(CHILDREN_TABLE, ["child", "parent"], rows)
            return wakeup

        wakeup = self._run_in_transaction(write)
        self.changes.publish(record.name)
        return stored, cast(Wakeup, wakeup)

    def _write_record_in(
        self, transaction: Any, stored: OperationRecord, expected_version: int | None
    ) -> None:
        layout = self._layout
        values = [layout.row_values(stored)]
        if expected_version is None:
            check_request_in(transaction, stored)
            if list(transaction.read(OWN_TABLE, ["name"], _keys([stored.name]))):
                raise AlreadyExists(f"operation {stored.name!r} exists already")
            transaction.insert(layout.table, layout.write_columns, values)
            return
        current = self._read_in(transaction, stored.name)  # NotFound if none
        if current.version != expected_version:
            raise StaleVersion(f"operation {stored.name!r} changed concurrently")
        transaction.update(layout.table, layout.write_columns, values)
        if stored.done and not current.done:
            settle_finished(transaction, stored.name)

    def claim_wakeups(
        self,
        owner: str,
        *,
        lease_us: int,
        limit: int,
        handlers: Collection[str],
        pinned_to: str,
    ) -> list[Wakeup]:
        """Lease up to ``limit`` ready wake-ups, earliest due first: one query, then
        the leases as mutations, in one read-write transaction. A claim that Spanner
        keeps aborting for ``CLAIM_TIMEOUT`` seconds claims nothing."""
        self._require_wakeups()
        sql = _WAKEUPS["ready_wakeups"].format(columns=", ".join(WAKEUP_COLUMNS))
        types = {
            "now_us": param_types.INT64,
            "limit": param_types.INT64,
            "handlers": _STRINGS,
            "pinned_to": param_types.STRING,
        }

        def claim(transaction: Any) -> list[Wakeup]:
            time_us = self.clock.now_us()  # each attempt's own: a retry comes later
            params = {
                "now_us": time_us,
                "limit": limit,
                "handlers": sorted(handlers),
                "pinned_to": pinned_to,
            }
            rows = transaction.execute_sql(sql, params=params, param_types=types)
            leased = [
                _with(
                    _wakeup_from_row(row),
                    lease_owner=owner,
                    lease_token=secrets.token_hex(16),
                    lease_expires_us=time_us + lease_us,
                )
                for row in rows
            ]
            leased = [_with(w, claims=w.claims + 1) for w in leased]
            if leased:
                values = [_lease_values(w) for w in leased]
                transaction.update(WAKEUPS_TABLE, _LEASE_COLUMNS, values)
            return leased

        try:
            claimed: list[Wakeup] = self._run_in_transaction(claim, CLAIM_TIMEOUT)
        except TransactionGaveUp:
            logger.debug("a claim of %s was aborted for %.0f s; it gave up", owner, CLAIM_TIMEOUT)
            return []
        return sorted(claimed, key=lambda w: w.due_time_us)

    def claim_wakeup(
        self, name: str, *, owner: str, lease_us: int, pinned_to: str, handler: str
    ) -> Wakeup | None:
        """Lease the wake-up of ``name`` if it is due, free, pinned to ``pinned_to`` and
        for ``handler``: one read and the lease as a mutation, in one read-write
        transaction (of two claims that read the row, one is aborted and retried)."""
        self._require_wakeups()

        def claim(transaction: Any) -> Wakeup | None:
            time_us = self.clock.now_us()
            wakeup = _read_wakeup(transaction, name)
            if wakeup is None or not _claimable(wakeup, time_us, pinned_to, handler):
                return None
            leased = _with(
                wakeup,
                lease_owner=owner,
                lease_token=secrets.token_hex(16),
                lease_expires_us=time_us + lease_us,
                claims=wakeup.claims + 1,
            )
            transaction.update(WAKEUPS_TABLE, _LEASE_COLUMNS, [_lease_values(leased)])
            return leased

        claimed: Wakeup | None = self._run_in_transaction(claim)
        return claimed

    def renew_wakeups(self, tokens: Collection[str], lease_us: int) -> set[str]:
        """Extend the leases still held; returns the tokens that were."""
        held = [token for token in tokens if token]
        if not held:
            return set()
        types = {"tokens": _STRINGS, "until_us": param_types.INT64}

        def renew(transaction: Any) -> set[str]:
            # from each attempt's time: a retried renewal extends the lease from its own
            params = {"tokens": held, "until_us": self.clock.now_us() + lease_us}
            rows = transaction.execute_sql(
                _WAKEUPS["renew_wakeups"], params=params, param_types=types
            )
            return {str(row[0]) for row in rows}

        renewed: set[str] = self._run_in_transaction(renew)
        return renewed

    def postpone_wakeup(self, wakeup: Wakeup, delay_us: int) -> bool:
        """Release the lease; the wake-up is due again after ``delay_us``."""
        due_time_us = self.clock.now_us() + delay_us
        postponed: bool = self._run_in_transaction(
            lambda transaction: _postpone(transaction, wakeup, due_time_us) == 1
        )
        return postponed

    def record_failure(
        self, wakeup: Wakeup, error: str, retry_delay_us: int | None
    ) -> OperationRecord | None:
        """Count a failed run on the operation; postpone the wake-up if asked."""
        self._require_wakeups()
        time_us = self.clock.now_us()
        params = {**_key(wakeup), "last_error": error, "now_us": time_us}
        types = {**_KEY_TYPES, "last_error": param_types.STRING, "now_us": param_types.INT64}

        def count(transaction: Any) -> OperationRecord | None:
            sql = _WAKEUPS["count_failure"]
            if transaction.execute_update(sql, params=params, param_types=types) == 0:
                return None
            if retry_delay_us is not None:
                _postpone(transaction, wakeup, time_us + retry_delay_us)
            return self._read_in(transaction, wakeup.name)

        record: OperationRecord | None = self._run_in_transaction(count)
        if record is not None:
            self.changes.publish(wakeup.name)
        return record

    def finish_wakeup(self, wakeup: Wakeup) -> bool:
        """Remove the wake-up if this lease still holds it."""

        def finish(transaction: Any) -> bool:
            sql = _WAKEUPS["finish_wakeup"]
            rows = list(transaction.execute_sql(sql, params=_key(wakeup), param_types=_KEY_TYPES))
            for (children,) in rows:
                _delete_children(transaction, wakeup.name, children)
            return len(rows) == 1

        finished: bool = self._run_in_transaction(finish)
        return finished

    def release_wakeups(self, tokens: Collection[str]) -> int:
        """End the leases of ``tokens`` so that other workers may claim them now;
        ``TransactionGaveUp`` if Spanner keeps aborting it for ``RELEASE_TIMEOUT``
        seconds (the leases then run out in their time)."""
        held = [token for token in tokens if token]
        if not held:
            return 0

        def release(transaction: Any) -> int:
            return int(
                transaction.execute_update(
                    _WAKEUPS["release_wakeups"],
                    params={"tokens": held},
                    param_types={"tokens": _STRINGS},
                )
            )

        released: int = self._run_in_transaction(release, RELEASE_TIMEOUT)
        return released

    def get_wakeup(self, name: str) -> Wakeup | None:
        """The pending wake-up of operation ``name``, if any."""
        if self.wakeups_refused:
            return None
        rows = self._snapshot_read(WAKEUPS_TABLE, list(WAKEUP_COLUMNS), _keys([name]))
        return _wakeup_from_row(rows[0]) if rows else None

    def unserved_handlers(self, handlers: Collection[str], overdue_us: int) -> set[str]:
        """Handlers other than ``handlers`` that overdue, unleased wake-ups wait for."""
        if self.wakeups_refused:
            return set()
        time_us = self.clock.now_us()
        rows = self._snapshot_query(
            _WAKEUPS["unserved_handlers"],
            {
                "now_us": time_us,
                "before_us": time_us - overdue_us,
                "handlers": sorted(handlers),
                "limit": UNSERVED_HANDLERS_LIMIT,
            },
            {
                "now_us": param_types.INT64,
                "before_us": param_types.INT64,
                "handlers": _STRINGS,
                "limit": param_types.INT64,
            },
        )
        return {str(row[0]) for row in rows}


def settle_finished(transaction: Any, name: str) -> None:
    """In the transaction that finishes ``name``: drop its wake-up, and make due the
    waits of its parents whose children are now all done (at the end of their sleep)."""
    forget_wakeup(transaction, name)
    child_rows = KeySet(ranges=[KeyRange(start_closed=[name], end_closed=[name])])  # type: ignore[no-untyped-call]
    parents = [row[1] for row in transaction.read(CHILDREN_TABLE, ["child", "parent"], child_rows)]
    for parent in parents:
        wakeup = _read_wakeup(transaction, parent)
        if wakeup is None or wakeup.due_time_us <= wakeup.ready_time_us:
            continue
        others = [child for child in _unique(wakeup.children) if child != name]
        if not _running_children(transaction, others):
            transaction.update(
                WAKEUPS_TABLE, ["name", "due_time_us"], [(parent, wakeup.ready_time_us)]
            )


def forget_wakeup(transaction: Any, name: str) -> None:
    """In a transaction that finishes or deletes ``name``: remove its wake-up."""
    wakeup = _read_wakeup(transaction, name)
    if wakeup is not None:
        _forget_children(transaction, wakeup)
        transaction.delete(WAKEUPS_TABLE, _keys([name]))


def forget_wakeups(transaction: Any, names: Collection[str]) -> None:
    """In a transaction that deletes ``names``: remove their wake-ups (one read)."""
    rows = list(transaction.read(WAKEUPS_TABLE, WAKEUP_COLUMNS, _keys(names)))
    for wakeup in map(_wakeup_from_row, rows):
        _forget_children(transaction, wakeup)
    if rows:
        transaction.delete(WAKEUPS_TABLE, _keys([row[0] for row in rows]))


def _running_children(transaction: Any, children: Sequence[str]) -> int:
    if not children:
        return 0
    rows = transaction.read(OWN_TABLE, ["name", "done"], _keys(children))
    return sum(1 for _name, done in rows if not done)


def _claimable(wakeup: Wakeup, time_us: int, pinned_to: str, handler: str) -> bool:
    return (
        wakeup.pinned_to == pinned_to
        and wakeup.target_kind == "handler"
        and wakeup.target == handler
        and wakeup.due_time_us <= time_us
        and wakeup.lease_expires_us <= time_us
    )


def _read_wakeup(transaction: Any, name: str) -> Wakeup | None:
    rows = list(transaction.read(WAKEUPS_TABLE, WAKEUP_COLUMNS, _keys([name])))
    return _wakeup_from_row(rows[0]) if rows else None


def _forget_children(transaction: Any, wakeup: Wakeup) -> None:
    _delete_children(transaction, wakeup.name, wakeup.children)


def _delete_children(transaction: Any, parent: str, children: Sequence[str]) -> None:
    if children:
        keys = KeySet(keys=[[child, parent] for child in children])  # type: ignore[no-untyped-call]
        transaction.delete(CHILDREN_TABLE, keys)


def _postpone(transaction: Any, wakeup: Wakeup, due_time_us: int) -> int:
    return int(
        transaction.execute_update(
            _WAKEUPS["postpone_wakeup"],
            params={**_key(wakeup), "due_time_us": due_time_us},
            param_types={**_KEY_TYPES, "due_time_us": param_types.INT64},
        )
    )


def _key(wakeup: Wakeup) -> dict[str, Any]:
    return {"name": wakeup.name, "lease_token": wakeup.lease_token}


def _keys(names: Collection[str]) -> KeySet:
    return KeySet(keys=[[name] for name in names])  # type: ignore[no-untyped-call]


def _unique(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _with(wakeup: Wakeup, **changes: Any) -> Wakeup:
    return dataclasses.replace(wakeup, **changes)


def _lease_values(wakeup: Wakeup) -> list[Any]:
    return [getattr(wakeup, column) for column in _LEASE_COLUMNS]


def _wakeup_values(wakeup: Wakeup) -> list[Any]:
    values = wakeup_values(wakeup)
    return [values[column] for column in WAKEUP_COLUMNS]


def _wakeup_from_row(row: Sequence[Any]) -> Wakeup:
    return wakeup_from_columns(dict(zip(WAKEUP_COLUMNS, row, strict=True)))
