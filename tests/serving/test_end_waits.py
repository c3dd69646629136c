"""``Waits.end()``: a server that stops answers its open waits with the latest state
(``lro serve`` calls it on SIGTERM), over HTTP and ``grpc.aio``, on every backend."""

from __future__ import annotations

import json
import socket

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc

import lro
from lro.serving import AsyncOperationsServicer, http_app
from tests.serving.conftest import AioServerThread, UvicornThread
from tests.serving.test_http_disconnect import SETTLE_SECONDS, _send_wait, _until

WAITS = 10


def _answer(connection: socket.socket) -> tuple[str, dict[str, object]]:
    """The status line and JSON body of the one answer on ``connection``."""
    received = b""
    while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
        chunk = connection.recv(65536)
        if not chunk:
            break
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), json.loads(body)


def test_http_waits_answer_the_latest_state_when_ended(client: lro.Client) -> None:
    running = client.new_operation()
    app = http_app(client)
    server = UvicornThread(app)
    try:
        connections = [_send_wait(server.url, running.name) for _ in range(WAITS)]
        assert _until(lambda: app.state.waits.in_flight == WAITS)
        app.state.waits.end()
        answers = [_answer(connection) for connection in connections]
        for connection in connections:
            connection.close()
        with _send_wait(server.url, running.name) as connection:
            late = _answer(connection)
    finally:
        server.stop()
    for status, body in [*answers, late]:
        assert status == "HTTP/1.1 200 OK"
        assert body["name"] == running.name
        assert "done" not in body
    assert app.state.waits.in_flight == 0


class _ServicerThread(AioServerThread):
    servicer: AsyncOperationsServicer

    async def _start(self, client: lro.Client, *_: object) -> tuple[grpc.aio.Server, str]:
        server = grpc.aio.server()
        self.servicer = AsyncOperationsServicer(client)
        self.servicer.add_to_server(server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, f"127.0.0.1:{port}"


def test_grpc_waits_answer_the_latest_state_when_ended(client: lro.Client) -> None:
    running = client.new_operation()
    server = _ServicerThread(client)
    try:
        with grpc.insecure_channel(server.address) as channel:
            stub = operations_grpc.OperationsStub(channel)
            request = operations_pb2.WaitOperationRequest(name=running.name)
            waits = [stub.WaitOperation.future(request) for _ in range(WAITS)]
            assert _until(lambda: server.servicer.waits.in_flight == WAITS)
            server.servicer.waits.end()
            answers = [wait.result(timeout=SETTLE_SECONDS) for wait in waits]
            late = stub.WaitOperation(request, timeout=SETTLE_SECONDS)
    finally:
        server.stop()
    assert all(answer.name == running.name and not answer.done for answer in [*answers, late])
