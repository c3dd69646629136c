"""A damaged row over gRPC, HTTP, the dashboard and the ``lro`` command: DATA_LOSS
naming the operation for a read of it, a placeholder in a listing, never a traceback."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import pytest

import lro
from lro.serving import http_app
from tests.commands import run_lro
from tests.damage import damage_operation
from tests.serving.conftest import UvicornThread


@pytest.fixture
def damaged(client: lro.Client) -> tuple[str, str]:
    """A sound operation and a damaged one, in that order."""
    sound, bad = client.new_operation().name, client.new_operation().name
    damage_operation(client.store, bad)
    return sound, bad


def test_grpc(channel: grpc.Channel, damaged: tuple[str, str]) -> None:
    sound, bad = damaged
    stub = operations_grpc.OperationsStub(channel)
    for call, request in (
        (stub.GetOperation, operations_pb2.GetOperationRequest(name=bad)),
        (stub.WaitOperation, operations_pb2.WaitOperationRequest(name=bad)),
        (stub.CancelOperation, operations_pb2.CancelOperationRequest(name=bad)),
    ):
        with pytest.raises(grpc.RpcError) as raised:
            call(request, timeout=10)
        assert raised.value.code() == grpc.StatusCode.DATA_LOSS
        assert bad in (raised.value.details() or "")
    listed = stub.ListOperations(operations_pb2.ListOperationsRequest(name="operations"))
    assert [op.name for op in listed.operations] == [sound, bad]
    assert listed.operations[1].error.code == grpc.StatusCode.DATA_LOSS.value[0]


@pytest.fixture
def ui_url(client: lro.Client) -> Iterator[str]:
    server = UvicornThread(http_app(client, ui=True))
    yield server.url
    server.stop()


def _json(url: str, method: str = "GET") -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())  # a JSON body, never a traceback


def test_http_and_dashboard(ui_url: str, damaged: tuple[str, str]) -> None:
    sound, bad = damaged
    for url, method in (
        (f"{ui_url}/v1/{bad}", "GET"),
        (f"{ui_url}/v1/{bad}:wait", "POST"),
        (f"{ui_url}/ui/-/api/operation?name={bad}", "GET"),
    ):
        status, body = _json(url, method)
        assert status == 500
        assert body["error"]["status"] == "DATA_LOSS"  # type: ignore[index]
        assert bad in body["error"]["message"]  # type: ignore[index]
    status, page = _json(f"{ui_url}/v1/operations")
    assert status == 200
    assert [op["name"] for op in page["operations"]] == [sound, bad]  # type: ignore[attr-defined]
    status, rows = _json(f"{ui_url}/ui/-/api/operations")
    assert status == 200
    assert [(r["name"], r["code"]) for r in rows["operations"]] == [  # type: ignore[attr-defined]
        (sound, ""),
        (bad, "DATA_LOSS"),
    ]


def test_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/lro.db"
    with lro.Client(url, worker=False) as client:
        sound, bad = client.new_operation().name, client.new_operation().name
        damage_operation(client.store, bad)
    for args in (("get", bad), ("wait", "--timeout", "1", bad)):
        result = run_lro(*args, "--db", url)
        assert result.returncode == 1
        line = f"lro: DataLoss: operation {bad!r} is damaged in the store and cannot be read"
        assert result.stderr == line + "\n"  # the lro.store log's details only on demand
    listed = run_lro("list", "--db", url, "--output", "json")
    assert listed.returncode == 0, listed.stderr
    lines = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(line["name"], line.get("error", {}).get("code")) for line in lines] == [
        (sound, None),
        (bad, 15),
    ]
    table = run_lro("list", "--db", url, "--output", "table")
    assert table.returncode == 0, table.stderr
    assert "DATA_LOSS" in table.stdout
