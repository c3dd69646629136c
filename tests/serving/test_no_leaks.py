"""Nothing a caller gets names the backend, a URL, a host, a port, a path or SQL; a NUL
byte in a filter or a name is INVALID_ARGUMENT on every backend."""

from __future__ import annotations

import json
import logging
import re
import socket
import sqlite3
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import pytest
from google.rpc import code_pb2

import lro
from lro.serving import http_app
from lro.serving._status import error_status
from tests.postgres_server import running_private_server
from tests.serving.conftest import AioServerThread, UvicornThread, start_sync_server

NUL_FILTERS = ['name = "operations/a\x00b"', "done = true\x00", "\x00"]
NUL_NAME = "operations/a\x00b"
REFERENCE = re.compile(r"\(ref [0-9a-f]{8}\)$")


def _grpc_fails(call: object, request: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(request, timeout=10)  # type: ignore[operator]
    return raised.value


def test_nul_over_grpc(client: lro.Client, channel: grpc.Channel) -> None:
    keep = client.new_operation()
    stub = operations_grpc.OperationsStub(channel)
    for text in NUL_FILTERS:
        listing = operations_pb2.ListOperationsRequest(name="operations", filter=text)
        failed = _grpc_fails(stub.ListOperations, listing)
        assert failed.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "NUL" in (failed.details() or "")
    for call, request in (
        (stub.GetOperation, operations_pb2.GetOperationRequest(name=NUL_NAME)),
        (stub.CancelOperation, operations_pb2.CancelOperationRequest(name=NUL_NAME)),
        (stub.DeleteOperation, operations_pb2.DeleteOperationRequest(name=NUL_NAME)),
        (stub.WaitOperation, operations_pb2.WaitOperationRequest(name=NUL_NAME)),
    ):
        assert _grpc_fails(call, request).code() == grpc.StatusCode.INVALID_ARGUMENT
    assert not client.get_operation(keep.name).done


def _http_error(url: str, method: str = "GET") -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None)
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    return raised.value.code, json.loads(raised.value.read())["error"]


@pytest.fixture
def ui_url(client: lro.Client) -> Iterator[str]:
    server = UvicornThread(http_app(client, ui=True))
    yield server.url
    server.stop()


def test_nul_over_http(ui_url: str) -> None:
    for text in NUL_FILTERS:
        query = urllib.parse.urlencode({"filter": text})
        for path in ("/v1/operations", "/ui/-/api/operations"):
            status, error = _http_error(f"{ui_url}{path}?{query}")
            assert (status, error["status"]) == (400, "INVALID_ARGUMENT")
    name = urllib.parse.quote(NUL_NAME)
    for path, method in (
        (f"/v1/{name}", "GET"),
        (f"/v1/{name}", "DELETE"),
        (f"/v1/{name}:cancel", "POST"),
        (f"/v1/{name}:wait", "POST"),
        (f"/ui/-/api/operation?name={urllib.parse.quote(NUL_NAME, safe='')}", "GET"),
    ):
        status, error = _http_error(f"{ui_url}{path}", method)
        assert (status, error["status"]) == (400, "INVALID_ARGUMENT"), path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _leaks(message: str, *secrets: str) -> list[str]:
    """What of ``secrets`` (and of the usual giveaways) ``message`` names."""
    words = [*secrets, "127.0.0.1", "localhost", "postgres", "sqlite", "spanner", "://"]
    words += ["SELECT", "INSERT", "UPDATE", "lro_operations", tempfile.gettempdir(), "/work"]
    return [word for word in words if word.lower() in message.lower()]


def test_an_unreachable_postgresql_at_open(caplog: pytest.LogCaptureFixture) -> None:
    port = str(_free_port())  # nothing listens there
    with (
        caplog.at_level(logging.WARNING, logger="lro.store"),
        pytest.raises(lro.Unavailable) as raised,
    ):
        lro.Client(f"postgresql://postgres@127.0.0.1:{port}/nowhere", worker=False).open()
    message = raised.value.message
    assert _leaks(message, port, "nowhere") == []
    assert REFERENCE.search(message)
    reference = REFERENCE.search(message).group(0)[5:13]  # type: ignore[union-attr]
    assert f"[ref {reference}]" in caplog.text
    assert port in caplog.text  # the operator's log has the details


def test_postgresql_going_away_while_served(tmp_path: Path) -> None:
    with running_private_server() as server:
        port = str(server.port)
        client = lro.Client(server.url, worker=False).open()
        with client:
            name = client.new_operation().name
            grpc_server, address = start_sync_server(client)
            aio = AioServerThread(client)
            http = UvicornThread(http_app(client))
            try:
                server.stop()
                for target in (address, aio.address):
                    with grpc.insecure_channel(target) as channel:
                        stub = operations_grpc.OperationsStub(channel)
                        request = operations_pb2.GetOperationRequest(name=name)
                        failed = _grpc_fails(stub.GetOperation, request)
                        assert failed.code() == grpc.StatusCode.UNAVAILABLE
                        details = failed.details() or ""
                        assert _leaks(details, port) == [], details
                        assert REFERENCE.search(details), details
                status, error = _http_error(f"{http.url}/v1/{name}")
                assert (status, error["status"]) == (503, "UNAVAILABLE")
                assert _leaks(error["message"], port) == [], error
            finally:
                http.stop()
                aio.stop()
                grpc_server.stop(None).wait()


def test_a_sqlite_error_names_no_path(tmp_path: Path) -> None:
    path = tmp_path / "secret-folder" / "lro.db"
    path.parent.mkdir()
    with lro.Client(f"sqlite:///{path}", worker=False) as client:
        name = client.new_operation().name
        with sqlite3.connect(path) as other:
            other.execute("DROP TABLE lro_operations")  # a broken schema: every read fails
        grpc_server, address = start_sync_server(client)
        http = UvicornThread(http_app(client))
        try:
            with grpc.insecure_channel(address) as channel:
                stub = operations_grpc.OperationsStub(channel)
                request = operations_pb2.GetOperationRequest(name=name)
                details = _grpc_fails(stub.GetOperation, request).details() or ""
            assert _leaks(details, str(tmp_path), "secret-folder", "lro.db") == [], details
            assert REFERENCE.search(details), details
            _, error = _http_error(f"{http.url}/v1/{name}")
            assert _leaks(error["message"], str(tmp_path), "secret-folder") == [], error
        finally:
            http.stop()
            grpc_server.stop(None).wait()
    with pytest.raises(lro.Error) as raised:  # a folder where the file should be
        lro.Client(f"sqlite:///{path.parent}", worker=False).open()
    assert _leaks(raised.value.message, str(tmp_path), "secret-folder") == []


def test_a_bug_is_internal_with_only_a_reference(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="lro.serving"):
        code, message = error_status(ValueError("at /secret/path: SELECT x"))
    assert code == code_pb2.INTERNAL
    found = re.fullmatch(r"internal error \(ref ([0-9a-f]{8})\)", message)
    assert found is not None, message
    assert f"[ref {found.group(1)}]" in caplog.text
    assert "/secret/path" in caplog.text  # the traceback is the operator's
