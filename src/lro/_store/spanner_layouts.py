"""How operation records map to Spanner rows: lro's own table, or the Go package's."""

from __future__ import annotations

import base64
import datetime
import hashlib
import re
from collections.abc import Sequence
from typing import Any, Protocol

import google.longrunning.operations_proto_pb2 as operations_pb2

from lro._core.errors import DataLoss, InvalidArgument
from lro._store.base import OperationRecord
from lro._store.mappings import (
    OPERATION_READ_COLUMNS,
    OPERATION_WRITE_COLUMNS,
    column_values,
    damaged_record,
    decoding,
    named,
    record_from_columns,
    whole_or_zero,
)

OWN_TABLE = "lro_operations"
GO_REQUIRED_COLUMNS = ("key", "Operation", "State", "ResumePoint")
GO_OPTIONAL_COLUMNS = ("Method", "UpdateTime")
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,127}")


def checked_table_name(table: str) -> str:
    """``table`` if it is a plain Spanner identifier (it is written into SQL)."""
    if not _IDENTIFIER.fullmatch(table):
        raise InvalidArgument(f"invalid Spanner table name {table!r}")
    return table


def to_bytes_value(data: bytes | None) -> bytes | None:
    """A BYTES value as the Spanner client takes it: base64."""
    return None if data is None else base64.b64encode(data)


def from_bytes_value(value: bytes | None) -> bytes | None:
    """A BYTES value as the Spanner client returns it (base64), decoded."""
    return None if value is None else base64.b64decode(value)


def _operation_from(value: Any) -> operations_pb2.Operation:
    if isinstance(value, operations_pb2.Operation):
        return value
    return operations_pb2.Operation.FromString(bytes(value))


class Layout(Protocol):
    """The mapping between records and the rows of one table."""

    table: str
    read_columns: list[str]
    write_columns: list[str]

    def record_from_row(self, row: Sequence[Any]) -> OperationRecord: ...

    def listed_from_row(self, row: Sequence[Any]) -> OperationRecord: ...

    def row_values(self, record: OperationRecord) -> list[Any]: ...

    def next_version(self, record: OperationRecord, expected_version: int) -> int: ...


class OwnLayout:
    """lro's own table, made by its migrations; every row carries a version number."""

    def __init__(self) -> None:
        self.table = OWN_TABLE
        self.read_columns = list(OPERATION_READ_COLUMNS)
        self.write_columns = list(OPERATION_WRITE_COLUMNS)

    def record_from_row(self, row: Sequence[Any]) -> OperationRecord:
        """The record in a row read with ``read_columns``; DataLoss if it is damaged."""
        values = dict(zip(self.read_columns, row, strict=True))
        with decoding(str(values["name"])):
            values["operation"] = from_bytes_value(values["operation"]) or b""
            values["state"] = from_bytes_value(values["state"])
        return record_from_columns(values)

    def listed_from_row(self, row: Sequence[Any]) -> OperationRecord:
        """``record_from_row``, or the placeholder of a damaged row (``damaged_record``)."""
        try:
            return self.record_from_row(row)
        except DataLoss as exc:
            values = dict(zip(self.read_columns, row, strict=True))
            create_time_us = whole_or_zero(values["create_time_us"])
            return damaged_record(exc, create_time_us, whole_or_zero(values["update_time_us"]))

    def row_values(self, record: OperationRecord) -> list[Any]:
        """The values for ``write_columns``."""
        values = column_values(record)
        values["operation"] = to_bytes_value(values["operation"])
        values["state"] = to_bytes_value(values["state"])
        return [values[column] for column in self.write_columns]

    def next_version(self, record: OperationRecord, expected_version: int) -> int:
        """Versions count writes."""
        return expected_version + 1


class GoLayout:
    """A table made for the Go package: ``key``, ``Operation`` (PROTO), ``State``, ...

    It has no version column, so a row's version is a hash of its content: a write by a
    Go service changes it as surely as one by lro does.
    """

    def __init__(self, table: str, columns: Sequence[str]) -> None:
        missing = [c for c in GO_REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise InvalidArgument(
                f"table {table!r} lacks the Go package's columns {missing}; "
                "name no table to use lro's own schema"
            )
        self.table = checked_table_name(table)
        optional = [c for c in GO_OPTIONAL_COLUMNS if c in columns]
        self.read_columns = [*GO_REQUIRED_COLUMNS, *optional]
        self.write_columns = ["Operation", "State", "ResumePoint", *optional]
        self.filter_fields = {"done", "error.code", "metadata_type", "name"}
        if "UpdateTime" in optional:
            self.filter_fields.add("update_time")

    def record_from_row(self, row: Sequence[Any]) -> OperationRecord:
        """The record in a row read with ``read_columns``; DataLoss if it is damaged."""
        values = dict(zip(self.read_columns, row, strict=True))
        name = str(values["key"])
        with decoding(name):
            update_time = values.get("UpdateTime")
            update_time_us = _micros(update_time) if update_time is not None else 0
            record = OperationRecord(
                operation=_operation_from(values["Operation"]),
                state=from_bytes_value(values["State"]),
                resume_point=values["ResumePoint"] or "",
                resume_target=values.get("Method") or "",
                update_time_us=update_time_us,
            )
        return named(record, name).replace(version=content_version(record))

    def listed_from_row(self, row: Sequence[Any]) -> OperationRecord:
        """``record_from_row``, or the placeholder of a damaged row (``damaged_record``)."""
        try:
            return self.record_from_row(row)
        except DataLoss as exc:
            return damaged_record(exc, 0, 0)

    def row_values(self, record: OperationRecord) -> list[Any]:
        """The values for ``write_columns`` (``key`` is computed by Spanner)."""
        values: dict[str, Any] = {
            "Operation": record.operation,
            "State": to_bytes_value(record.state),
            "ResumePoint": record.resume_point,
            "Method": record.resume_target,
            "UpdateTime": datetime.datetime.fromtimestamp(
                record.update_time_us / 1e6, tz=datetime.UTC
            ),
        }
        return [values[column] for column in self.write_columns]

    def next_version(self, record: OperationRecord, expected_version: int) -> int:
        """Versions are content hashes."""
        return content_version(record)


def content_version(record: OperationRecord) -> int:
    """A 63-bit hash of what a Go table stores of ``record``."""
    digest = hashlib.blake2b(digest_size=8)
    for part in (
        record.operation.SerializeToString(deterministic=True),
        record.state if record.state is not None else b"\x00null",
        record.resume_point.encode(),
        record.resume_target.encode(),
    ):
        digest.update(len(part).to_bytes(8, "big") + part)
    return int.from_bytes(digest.digest(), "big") >> 1


def _micros(value: datetime.datetime) -> int:
    return int(value.timestamp() * 1_000_000)
