"""Real servers on 127.0.0.1 (port 0): gRPC sync and asyncio, and HTTP under uvicorn."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
import uvicorn
from google.api_core import operations_v1
from google.api_core.operations_v1.transports.rest import OperationsRestTransport
from google.auth.credentials import AnonymousCredentials

import lro
from lro.serving import AsyncOperationsServicer, OperationsServicer, http_app
from lro.serving._auth import AuthArgument
from tests.serving.certificates import Pki, make_pki

TOP_LEVEL_HTTP_OPTIONS = {
    "google.longrunning.Operations.GetOperation": [
        {"method": "get", "uri": "/v1/{name=operations/**}"}
    ],
    "google.longrunning.Operations.ListOperations": [
        {"method": "get", "uri": "/v1/{name=operations}"}
    ],
    "google.longrunning.Operations.DeleteOperation": [
        {"method": "delete", "uri": "/v1/{name=operations/**}"}
    ],
    "google.longrunning.Operations.CancelOperation": [
        {"method": "post", "uri": "/v1/{name=operations/**}:cancel", "body": "*"}
    ],
}


def _add_port(server: grpc.Server | grpc.aio.Server, tls: grpc.ServerCredentials | None) -> int:
    if tls is None:
        return server.add_insecure_port("127.0.0.1:0")
    return server.add_secure_port("127.0.0.1:0", tls)


def start_sync_server(
    client: lro.Client, auth: AuthArgument = None, tls: grpc.ServerCredentials | None = None
) -> tuple[grpc.Server, str]:
    """A ``grpc.server`` with the servicer on a free port (with ``tls`` credentials if
    given); returns it and its address."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    OperationsServicer(client, auth=auth).add_to_server(server)
    port = _add_port(server, tls)
    server.start()
    return server, f"127.0.0.1:{port}"


class AioServerThread:
    """A ``grpc.aio`` server on its own event loop in a thread."""

    def __init__(
        self,
        client: lro.Client,
        auth: AuthArgument = None,
        tls: grpc.ServerCredentials | None = None,
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server, self.address = self.run(self._start(client, auth, tls))

    def run(self, coroutine: object) -> tuple[grpc.aio.Server, str]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)  # type: ignore[arg-type]

    async def _start(
        self, client: lro.Client, auth: AuthArgument, tls: grpc.ServerCredentials | None
    ) -> tuple[grpc.aio.Server, str]:
        server = grpc.aio.server()
        AsyncOperationsServicer(client, auth=auth).add_to_server(server)
        port = _add_port(server, tls)
        await server.start()
        return server, f"127.0.0.1:{port}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(None), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(params=["sync", "aio"])
def grpc_address(request: pytest.FixtureRequest, client: lro.Client) -> Iterator[str]:
    """Address of a gRPC server (sync, then asyncio) serving ``client``'s store."""
    if request.param == "sync":
        server, address = start_sync_server(client)
        yield address
        server.stop(None).wait()
    else:
        aio = AioServerThread(client)
        yield aio.address
        aio.stop()


@pytest.fixture
def channel(grpc_address: str) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(grpc_address) as channel:
        yield channel


@pytest.fixture
def operations_client(channel: grpc.Channel) -> operations_v1.OperationsClient:
    """google-api-core's gRPC Operations client."""
    return operations_v1.OperationsClient(channel)


class UvicornThread:
    """uvicorn serving an ASGI app on a free port of 127.0.0.1, in a thread."""

    def __init__(self, app: object, **options: Any) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        scheme = "https" if options.get("ssl_certfile") else "http"
        self.url = f"{scheme}://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", **options)  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, args=([self.socket],))
        self.thread.start()
        while not self.server.started and self.thread.is_alive():
            threading.Event().wait(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()


@pytest.fixture
def http_url(client: lro.Client) -> Iterator[str]:
    """Base URL of the HTTP app serving ``client``'s store under uvicorn."""
    server = UvicornThread(http_app(client))
    yield server.url
    server.stop()


RestClientFactory = Callable[[bool], operations_v1.AbstractOperationsClient]


@pytest.fixture
def rest_client(http_url: str) -> RestClientFactory:
    """google-api-core's REST Operations client; ``top_level`` routes ``operations/*``."""

    def make(top_level: bool) -> operations_v1.AbstractOperationsClient:
        transport = OperationsRestTransport(
            host=http_url,
            credentials=AnonymousCredentials(),
            http_options=TOP_LEVEL_HTTP_OPTIONS if top_level else None,
        )
        return operations_v1.AbstractOperationsClient(transport=transport)

    return make


@pytest.fixture
def sqlite_client(tmp_path: Path) -> Iterator[lro.Client]:
    """A client on a SQLite store, for tests whose subject does not touch the store."""
    with lro.Client(f"sqlite:///{tmp_path}/lro.db") as client:
        yield client


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    """A CA, a server certificate for localhost, and client certificates (PEM files)."""
    return make_pki(tmp_path / "pki")
