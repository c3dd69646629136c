"""What the dashboard makes of an operation's fields (no server, no browser)."""

from __future__ import annotations

import google.longrunning.operations_proto_pb2 as operations_pb2
import google.rpc.status_pb2 as status_pb2
import pytest
from google.rpc import code_pb2

from lro.serving._dashboard.views import progress_of, rfc3339, state_json, status_of


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"progressPercent": 42.5}, 42.5),
        ({"progress_percent": 7}, 7.0),
        ({"@type": "x/google.protobuf.Struct", "value": {"progress_percent": 80}}, 80.0),
        ({"progressPercent": 250}, 100.0),
        ({"progressPercent": -3}, 0.0),
        ({"progressPercent": True}, None),
        ({"progressPercent": "50"}, None),
        ({"progressPercent": float("nan")}, None),
        ({"@type": "x/acme.Secret", "value": "CAE="}, None),
        (None, None),
    ],
)
def test_progress_is_a_number_within_0_and_100(metadata: object, expected: float | None) -> None:
    assert progress_of(metadata) == expected


@pytest.mark.parametrize(
    ("operation", "status"),
    [
        (operations_pb2.Operation(), "running"),
        (operations_pb2.Operation(done=True), "done"),
        (
            operations_pb2.Operation(done=True, error=status_pb2.Status(code=code_pb2.CANCELLED)),
            "cancelled",
        ),
        (
            operations_pb2.Operation(done=True, error=status_pb2.Status(code=code_pb2.INTERNAL)),
            "failed",
        ),
    ],
)
def test_status(operation: operations_pb2.Operation, status: str) -> None:
    assert status_of(operation) == status


def test_a_state_is_json_or_its_size() -> None:
    assert state_json(b'{"rows": 3}') == {"kind": "json", "value": {"rows": 3}}
    assert state_json(b"\x08\x96\x01") == {"kind": "binary", "bytes": 3}
    assert state_json(None) == {"kind": "none"}


def test_times_are_rfc3339_in_utc() -> None:
    assert rfc3339(1_700_000_000_123_456) == "2023-11-14T22:13:20.123Z"
    assert rfc3339(0) is None
