"""What the dashboard shows of an operation, as JSON for its pages (no I/O here)."""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Mapping
from typing import Any

import google.longrunning.operations_proto_pb2 as operations_pb2
import google.rpc.code_pb2 as code_pb2

from lro._core.anys import type_name
from lro._core.operation_json import operation_json
from lro._store.base import OperationRecord, Wakeup

# The metadata fields read as a percentage of work done (proto3 JSON and a Struct's key).
PROGRESS_FIELDS = ("progressPercent", "progress_percent")


def status_of(operation: operations_pb2.Operation) -> str:
    """``running``, ``done``, ``failed`` or ``cancelled``."""
    if not operation.done:
        return "running"
    if not operation.HasField("error"):
        return "done"
    return "cancelled" if operation.error.code == code_pb2.CANCELLED else "failed"


def code_name(operation: operations_pb2.Operation) -> str:
    """The name of the operation's status code (``OK`` unless it failed; ``""`` while
    it runs)."""
    if not operation.done:
        return ""
    code = operation.error.code if operation.HasField("error") else code_pb2.OK
    return code_pb2.Code.Name(code) if code in code_pb2.Code.values() else str(code)


def progress_of(rendered_metadata: object) -> float | None:
    """The numeric ``progress_percent`` of the metadata, within 0..100, if it has one.

    ``rendered_metadata`` is the Any's proto3 JSON: a message's fields beside ``@type``,
    or a well-known type's (a ``Struct``) under ``value``.
    """
    if not isinstance(rendered_metadata, Mapping):
        return None
    fields: Mapping[str, object] = rendered_metadata
    inner = fields.get("value")
    if isinstance(inner, Mapping):
        fields = inner
    for field in PROGRESS_FIELDS:
        value = fields.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(min(max(value, 0), 100))
    return None


def rfc3339(time_us: int) -> str | None:
    """``time_us`` (microseconds since the epoch) as RFC 3339 in UTC; None for 0."""
    if not time_us:
        return None
    moment = datetime.datetime.fromtimestamp(time_us / 1e6, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def summary(operation: operations_pb2.Operation, record: OperationRecord | None) -> dict[str, Any]:
    """One row of the list: name, status, code, times, metadata type and progress."""
    rendered = operation_json(operation)
    return {
        "name": operation.name,
        "status": status_of(operation),
        "code": code_name(operation),
        "createTime": rfc3339(record.create_time_us) if record else None,
        "updateTime": rfc3339(record.update_time_us) if record else None,
        "metadataType": type_name(operation.metadata) if operation.HasField("metadata") else "",
        "progress": progress_of(rendered.get("metadata")),
    }


def state_json(state: bytes | None) -> dict[str, Any]:
    """The private state: its JSON when it is JSON, else its size (protobuf bytes)."""
    if state is None:
        return {"kind": "none"}
    try:
        return {"kind": "json", "value": json.loads(state.decode())}
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {"kind": "binary", "bytes": len(state)}


def wakeup_json(
    wakeup: Wakeup | None, children_done: Mapping[str, bool | None], now_us: int
) -> dict[str, Any] | None:
    """The pending wake-up: when it is due, what it waits for, and who holds it."""
    if wakeup is None:
        return None
    leased = bool(wakeup.lease_owner) and wakeup.lease_expires_us > now_us
    return {
        "dueTime": rfc3339(wakeup.due_time_us),
        "readyTime": rfc3339(wakeup.ready_time_us),
        "deadline": rfc3339(wakeup.deadline_us),
        "resumes": f"{wakeup.target_kind} {wakeup.target}",
        "children": [
            {"name": child, "done": children_done.get(child)} for child in wakeup.children
        ],
        "childEndpoint": wakeup.child_endpoint,
        "claims": wakeup.claims,
        "leaseHolder": wakeup.lease_owner if leased else "",
        "leaseExpires": rfc3339(wakeup.lease_expires_us) if leased else None,
    }


def detail(
    record: OperationRecord,
    wakeup: Wakeup | None,
    children_done: Mapping[str, bool | None],
    now_us: int,
) -> dict[str, Any]:
    """Everything the operation page shows."""
    operation = record.operation
    return {
        **summary(operation, record),
        "operation": operation_json(operation),
        "resumePoint": record.resume_point,
        "attempts": record.attempts,
        "lastError": record.last_error,
        "waitTimedOut": record.wait_timed_out,
        "state": state_json(record.state),
        "wakeup": wakeup_json(wakeup, children_done, now_us),
    }
