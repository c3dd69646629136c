"""Page sizes beyond int32, or negative, are INVALID_ARGUMENT on every route."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import pytest

import lro
from lro.serving import http_app
from tests.serving.conftest import UvicornThread

BAD_SIZES = ["2147483648", "99999999999", "-99999999999", "-2147483649", "-1"]


@pytest.fixture
def ui_url(sqlite_client: lro.Client) -> Iterator[str]:
    server = UvicornThread(http_app(sqlite_client, ui=True))
    yield server.url
    server.stop()


@pytest.mark.parametrize("size", BAD_SIZES)
@pytest.mark.parametrize(
    "path", ["/v1/operations", "/v1/projects/p/operations", "/ui/-/api/operations"]
)
def test_http_page_size_out_of_range(ui_url: str, path: str, size: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(f"{ui_url}{path}?pageSize={size}", timeout=10)
    assert raised.value.code == 400
    error = json.loads(raised.value.read())["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert "pageSize" in error["message"]


def test_http_largest_int32_page_size_is_the_most(ui_url: str, sqlite_client: lro.Client) -> None:
    sqlite_client.new_operation()
    with urllib.request.urlopen(f"{ui_url}/v1/operations?pageSize=2147483647", timeout=10) as got:
        assert len(json.loads(got.read())["operations"]) == 1


@pytest.mark.parametrize("size", [-1, -(2**31)])
def test_grpc_negative_page_size(channel: grpc.Channel, size: int) -> None:
    stub = operations_grpc.OperationsStub(channel)
    with pytest.raises(grpc.RpcError) as raised:
        stub.ListOperations(operations_pb2.ListOperationsRequest(name="operations", page_size=size))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
