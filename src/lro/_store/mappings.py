"""Records and wake-ups as table columns, and back: one mapping for every backend.

SQLite, PostgreSQL and lro's own Spanner schema name their columns alike; a backend
only converts what its driver stores differently (Spanner's BYTES as base64, SQLite's
lists of names as JSON text).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, cast

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, status_pb2

from lro._core.errors import DataLoss
from lro._store.base import OperationRecord, TargetKind, WaitPlan, Wakeup

LOGGER = logging.getLogger("lro.store")
# What a damaged row raises as it is decoded: bad bytes, a number or base64 that is not
# one (binascii.Error and UnicodeDecodeError are ValueErrors), a value of another type.
UNDECODABLE = (DecodeError, ValueError, TypeError)

OPERATION_READ_COLUMNS = (
    "name",
    "operation",
    "state",
    "resume_point",
    "resume_target",
    "create_time_us",
    "update_time_us",
    "version",
    "attempts",
    "last_error",
    "wait_timed_out",
    "trace_context",
    "request_id",
)
# Read back as part of the operation, kept apart for filters and indexes.
OPERATION_DERIVED_COLUMNS = ("done", "error_code", "metadata_type")
OPERATION_WRITE_COLUMNS = (*OPERATION_READ_COLUMNS, *OPERATION_DERIVED_COLUMNS)

WAKEUP_COLUMNS = (
    "name",
    "target_kind",
    "target",
    "due_time_us",
    "deadline_us",
    "poll_frequency_us",
    "children",
    "child_endpoint",
    "target_endpoint",
    "pinned_to",
    "schedule_time_us",
    "ready_time_us",
    "lease_owner",
    "lease_token",
    "lease_expires_us",
    "claims",
)


class ColumnRow(Protocol):
    """A row read by column name (``sqlite3.Row``, a psycopg dict row, a dict)."""

    def __getitem__(self, column: str, /) -> Any: ...


def record_from_columns(row: ColumnRow) -> OperationRecord:
    """The record in a row of lro's operations table (the inverse of ``column_values``);
    DataLoss if the row does not decode."""
    name = str(row["name"])
    with decoding(name):
        state = row["state"]
        record = OperationRecord(
            operation=operations_pb2.Operation.FromString(bytes(row["operation"])),
            state=bytes(state) if state is not None else None,
            resume_point=str(row["resume_point"]),
            resume_target=str(row["resume_target"]),
            version=int(row["version"]),
            create_time_us=int(row["create_time_us"]),
            update_time_us=int(row["update_time_us"]),
            attempts=int(row["attempts"]),
            last_error=str(row["last_error"]),
            wait_timed_out=bool(row["wait_timed_out"]),
            trace_context=str(row["trace_context"]),
            request_id=str(row["request_id"] or ""),
        )
    return named(record, name)


def listed_from_columns(row: ColumnRow) -> OperationRecord:
    """``record_from_columns``, or a placeholder if the row is damaged (see
    ``damaged_record``), in its place in (create time, name) order."""
    try:
        return record_from_columns(row)
    except DataLoss as exc:
        times = whole_or_zero(row["create_time_us"]), whole_or_zero(row["update_time_us"])
        return damaged_record(exc, *times)


@contextlib.contextmanager
def decoding(name: str) -> Iterator[None]:
    """What fails to decode in the block (bytes, a number, base64) is DataLoss of ``name``;
    the details go to the ``lro.store`` log."""
    try:
        yield
    except UNDECODABLE as exc:
        LOGGER.error("operation %r does not decode: %s: %s", name, type(exc).__name__, exc)
        raise DataLoss(name) from None


def named(record: OperationRecord, name: str) -> OperationRecord:
    """``record`` if its operation carries the row's ``name``, else DataLoss."""
    if record.name != name:
        LOGGER.error("the row of %r holds an operation named %r", name, record.name)
        raise DataLoss(name)
    return record


def damaged_record(exc: DataLoss, create_time_us: int, update_time_us: int) -> OperationRecord:
    """What a listing shows of a damaged row: an operation of its name, done, with
    DATA_LOSS as its error, so that one bad row hides none of the others."""
    operation = operations_pb2.Operation(
        name=exc.operation,
        done=True,
        error=status_pb2.Status(code=code_pb2.DATA_LOSS, message=exc.message),
    )
    return OperationRecord(
        operation=operation, create_time_us=create_time_us, update_time_us=update_time_us
    )


def whole_or_zero(value: Any) -> int:
    """``value`` as an int, 0 if it is not one (the column of a damaged row)."""
    try:
        return int(value)
    except UNDECODABLE:
        return 0


def column_values(record: OperationRecord) -> dict[str, Any]:
    """The columns of lro's operations table that store ``record``, by name
    (``OPERATION_WRITE_COLUMNS``; ``collection`` is computed by the database)."""
    operation = record.operation
    return {
        "name": operation.name,
        "operation": operation.SerializeToString(deterministic=True),
        "done": operation.done,
        "error_code": operation.error.code if operation.HasField("error") else None,
        "metadata_type": record.metadata_type,
        "state": record.state,
        "resume_point": record.resume_point,
        "resume_target": record.resume_target,
        "create_time_us": record.create_time_us,
        "update_time_us": record.update_time_us,
        "version": record.version,
        "attempts": record.attempts,
        "last_error": record.last_error,
        "wait_timed_out": record.wait_timed_out,
        "trace_context": record.trace_context,
        "request_id": record.request_id or None,  # NULL: no request id, not unique
    }


def stamped(record: OperationRecord, expected_version: int | None, time_us: int) -> OperationRecord:
    """``record`` as a write stores it at ``time_us``: created at version 1 when
    ``expected_version`` is None, else the version after ``expected_version``."""
    if expected_version is None:
        return record.replace(version=1, create_time_us=time_us, update_time_us=time_us)
    return record.replace(version=expected_version + 1, update_time_us=time_us)


def planned_wakeup(name: str, plan: WaitPlan, time_us: int) -> Wakeup:
    """The wake-up that ``plan``, scheduled at ``time_us``, asks for (not yet leased)."""
    ready_time_us = time_us + plan.sleep_us
    return Wakeup(
        name=name,
        target_kind=plan.target_kind,
        target=plan.target,
        due_time_us=ready_time_us,
        deadline_us=ready_time_us + plan.timeout_us,
        poll_frequency_us=plan.poll_frequency_us,
        children=tuple(plan.children),
        child_endpoint=plan.child_endpoint,
        target_endpoint=plan.target_endpoint,
        pinned_to=plan.pinned_to,
        schedule_time_us=time_us,
        ready_time_us=ready_time_us,
    )


def local_children(plan: WaitPlan) -> list[str]:
    """The children of ``plan`` kept in this store (none if they live behind an
    endpoint), each once."""
    return [] if plan.child_endpoint else list(dict.fromkeys(plan.children))


def wakeup_values(wakeup: Wakeup) -> dict[str, Any]:
    """The columns of ``lro_wakeups`` that store ``wakeup``, by name (children as a list)."""
    values = {column: getattr(wakeup, column) for column in WAKEUP_COLUMNS}
    values["children"] = list(wakeup.children)
    return values


def wakeup_from_columns(
    row: ColumnRow, names_from: Callable[[Any], Iterable[str]] = tuple
) -> Wakeup:
    """The wake-up in a row of ``lro_wakeups``; ``names_from`` reads the children column."""
    return Wakeup(
        name=str(row["name"]),
        target_kind=cast(TargetKind, str(row["target_kind"])),
        target=str(row["target"]),
        due_time_us=int(row["due_time_us"]),
        deadline_us=int(row["deadline_us"]),
        poll_frequency_us=int(row["poll_frequency_us"]),
        children=tuple(names_from(row["children"] or ())),
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
