"""The operation record and its mappings to table columns, without a database."""

from __future__ import annotations

import dataclasses

import pytest
from google.protobuf import wrappers_pb2

from lro._core import transitions
from lro._store.base import OperationRecord, WaitPlan
from lro._store.mappings import (
    OPERATION_WRITE_COLUMNS,
    WAKEUP_COLUMNS,
    column_values,
    local_children,
    planned_wakeup,
    record_from_columns,
    stamped,
    wakeup_from_columns,
    wakeup_values,
)


def _record() -> OperationRecord:
    operation = transitions.finish(
        transitions.new_operation("operations/a"), wrappers_pb2.Int32Value(value=7)
    )
    return OperationRecord(
        operation, state=b"{}", resume_point="p", version=3, attempts=2, last_error="x"
    )


def test_replace_is_dataclasses_replace() -> None:
    record = _record()
    changes = {"version": 4, "update_time_us": 9, "state": None, "wait_timed_out": True}
    assert record.replace(**changes) == dataclasses.replace(record, **changes)  # type: ignore[arg-type]
    assert record.version == 3  # the original is untouched
    with pytest.raises(AttributeError):
        record.replace(colour="blue")


def test_record_round_trips_through_columns() -> None:
    record = _record().replace(create_time_us=5, update_time_us=6)
    values = column_values(record)
    assert sorted(values) == sorted(OPERATION_WRITE_COLUMNS)
    assert (values["done"], values["error_code"]) == (True, None)
    assert values["metadata_type"] == ""
    assert record_from_columns(values) == record


def test_stamped_inserts_at_version_one_and_updates_to_the_next() -> None:
    record = _record()
    created = stamped(record, None, 100)
    assert (created.version, created.create_time_us, created.update_time_us) == (1, 100, 100)
    updated = stamped(created, 7, 200)
    assert (updated.version, updated.create_time_us, updated.update_time_us) == (8, 100, 200)


def test_wakeup_round_trips_through_columns() -> None:
    plan = WaitPlan(
        target_kind="grpc",
        target="/s/M",
        sleep_us=10,
        timeout_us=100,
        children=("operations/c", "operations/c", "operations/d"),
    )
    wakeup = planned_wakeup("operations/p", plan, 1_000)
    assert (wakeup.due_time_us, wakeup.ready_time_us, wakeup.deadline_us) == (1010, 1010, 1110)
    values = wakeup_values(wakeup)
    assert tuple(values) == WAKEUP_COLUMNS
    assert wakeup_from_columns(values) == wakeup
    assert local_children(plan) == ["operations/c", "operations/d"]
    assert local_children(dataclasses.replace(plan, child_endpoint="h:1")) == []
