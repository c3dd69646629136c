"""How long WaitOperation waits: the request's timeout, the server's cap, the deadline."""

from __future__ import annotations

import google.longrunning.operations_proto_pb2 as operations_pb2
import pytest
from google.protobuf import duration_pb2

import lro
from lro.serving._requests import wait_seconds


def _request(seconds: float | None) -> operations_pb2.WaitOperationRequest:
    if seconds is None:
        return operations_pb2.WaitOperationRequest(name="operations/a")
    timeout = duration_pb2.Duration()
    timeout.FromNanoseconds(int(seconds * 1e9))
    return operations_pb2.WaitOperationRequest(name="operations/a", timeout=timeout)


@pytest.mark.parametrize(
    ("timeout", "remaining", "cap", "expected"),
    [
        (None, None, 600.0, 600.0),  # neither: the server's cap
        (30.0, None, 600.0, 30.0),
        (900.0, None, 600.0, 600.0),
        (60.0, 2.0, 600.0, 1.5),  # a quarter of a short deadline is kept for the answer
        (60.0, 20.0, 600.0, 19.0),  # at most one second of a long one
        (0.3, 20.0, 600.0, 0.3),
        (60.0, 0.0, 600.0, 0.0),
    ],
)
def test_the_wait_ends_before_the_deadline_with_room_for_the_answer(
    timeout: float | None, remaining: float | None, cap: float, expected: float
) -> None:
    assert wait_seconds(_request(timeout), remaining, cap) == pytest.approx(expected)


def test_a_negative_timeout_is_refused() -> None:
    with pytest.raises(lro.InvalidArgument, match="must not be negative"):
        wait_seconds(_request(-1.0), None, 600.0)
