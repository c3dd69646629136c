from __future__ import annotations

import grpc
import pytest
from google.api_core import exceptions as api_exceptions
from google.rpc import code_pb2, status_pb2

import lro
from lro._core.statuses import status_of


class _RpcError(grpc.RpcError):
    """An RpcError as grpc raises them: with code() and details()."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize(
    ("error_class", "code"),
    [
        (lro.NotFound, code_pb2.NOT_FOUND),
        (lro.InvalidOperationName, code_pb2.INVALID_ARGUMENT),
        (lro.InvalidPageToken, code_pb2.INVALID_ARGUMENT),
        (lro.WaitDeadlineExceeded, code_pb2.DEADLINE_EXCEEDED),
        (lro.OperationAlreadyDone, code_pb2.FAILED_PRECONDITION),
        (lro.Cancelled, code_pb2.CANCELLED),
        (lro.Unavailable, code_pb2.UNAVAILABLE),
    ],
)
def test_each_error_has_its_code(error_class: type[lro.Error], code: int) -> None:
    assert error_class.code == code
    assert issubclass(error_class, lro.Error)


def test_from_code_picks_the_registered_class() -> None:
    error = lro.Error.from_code(code_pb2.NOT_FOUND, "gone")
    assert isinstance(error, lro.NotFound)
    assert error.message == "gone"
    odd = lro.Error.from_code(code_pb2.OUT_OF_RANGE, "far")
    assert type(odd) is lro.Error
    assert odd.code == code_pb2.OUT_OF_RANGE
    lost = lro.Error.from_code(code_pb2.DATA_LOSS, "lost")
    assert isinstance(lost, lro.DataLoss)
    assert lost.message == "lost"


def test_messages_name_what_went_wrong() -> None:
    assert "operations/1" in str(lro.NotFound("operations/1"))
    error = lro.WaitDeadlineExceeded(["operations/b", "operations/a"], 2)
    assert error.pending == ("operations/a", "operations/b")
    assert "operations/a, operations/b" in str(error)


def test_status_of_keeps_codes() -> None:
    assert status_of(lro.NotFound("operations/x")).code == code_pb2.NOT_FOUND
    rpc = status_of(_RpcError(grpc.StatusCode.PERMISSION_DENIED, "nope"))
    assert (rpc.code, rpc.message) == (code_pb2.PERMISSION_DENIED, "nope")
    api = status_of(api_exceptions.ResourceExhausted("quota"))  # type: ignore[no-untyped-call]
    assert (api.code, api.message) == (code_pb2.RESOURCE_EXHAUSTED, "quota")
    plain = status_of(ValueError("bad value"))
    assert (plain.code, plain.message) == (code_pb2.UNKNOWN, "bad value")
    given = status_pb2.Status(code=code_pb2.ABORTED, message="m")
    assert status_of(given) is given


def test_status_of_refuses_other_things() -> None:
    with pytest.raises(lro.InvalidArgument):
        status_of("not an error")  # type: ignore[arg-type]
