"""``lro serve`` under load: reads answer while hundreds of waits are open (issue 10, F2).

Each wait has no deadline and its operation keeps running, so every wait is still
pending when the read is made; a server whose waits each hold a thread of a fixed pool
answers the read only once a wait ends.
"""

from __future__ import annotations

import contextlib
import select
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import requests

import lro
from tests.e2e.test_serve_security import Serving, serving

WAITS = 200
OPERATIONS = 10
READ_DEADLINE = 10.0  # generous: the read answers at once unless it is starved


def _running_operations(tmp_path: Path) -> list[str]:
    with lro.Client(f"sqlite:///{tmp_path}/lro.db", worker=False) as client:
        return [client.new_operation().name for _ in range(OPERATIONS)]


def test_get_operation_answers_while_200_grpc_waits_are_open(tmp_path: Path) -> None:
    names = _running_operations(tmp_path)
    with serving(tmp_path) as served, grpc.insecure_channel(served.grpc_address) as channel:
        stub = operations_grpc.OperationsStub(channel)
        waits = [
            stub.WaitOperation.future(
                operations_pb2.WaitOperationRequest(name=names[i % OPERATIONS])
            )
            for i in range(WAITS)
        ]
        try:
            got = stub.GetOperation(
                operations_pb2.GetOperationRequest(name=names[0]), timeout=READ_DEADLINE
            )
            assert got.name == names[0]
            assert not got.done
            assert not any(wait.done() for wait in waits)
        finally:
            for wait in waits:
                wait.cancel()


@contextlib.contextmanager
def _open_http_waits(served: Serving, names: list[str]) -> Iterator[list[socket.socket]]:
    """``WAITS`` raw ``POST {name}:wait`` requests, each on its own connection."""
    url = urlsplit(served.http_url)
    connections: list[socket.socket] = []
    try:
        for i in range(WAITS):
            connection = socket.create_connection((url.hostname, url.port), timeout=30)
            connections.append(connection)
            request = (
                f"POST /v1/{names[i % OPERATIONS]}:wait HTTP/1.1\r\nHost: {url.netloc}\r\n"
                "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
            )
            connection.sendall(request.encode())
        yield connections
    finally:
        for connection in connections:
            connection.close()


def test_get_answers_while_200_http_waits_are_open(tmp_path: Path) -> None:
    names = _running_operations(tmp_path)
    with serving(tmp_path) as served, _open_http_waits(served, names) as connections:
        got = requests.get(f"{served.http_url}/v1/{names[0]}", timeout=READ_DEADLINE)
        assert got.status_code == 200
        assert got.json()["name"] == names[0]
        answered, _, _ = select.select(connections, [], [], 0)
        assert answered == []


def test_sigterm_answers_the_open_waits_with_the_latest_state(tmp_path: Path) -> None:
    names = _running_operations(tmp_path)
    with serving(tmp_path) as served, grpc.insecure_channel(served.grpc_address) as channel:
        stub = operations_grpc.OperationsStub(channel)
        requests_ = [operations_pb2.WaitOperationRequest(name=name) for name in names]
        waits = [stub.WaitOperation.future(request) for request in requests_]
        stub.GetOperation(operations_pb2.GetOperationRequest(name=names[0]), timeout=30)
        served.process.send_signal(signal.SIGTERM)
        answers = [wait.result(timeout=30) for wait in waits]
        assert served.process.wait(timeout=30) == 0
    assert [answer.name for answer in answers] == names
    assert not any(answer.done for answer in answers)
    logged = served.stderr.read_text()
    assert "ERROR" not in logged
    assert "Traceback" not in logged
