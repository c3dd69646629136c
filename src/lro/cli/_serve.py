"""``lro serve``: the Operations service over gRPC and HTTP/JSON for one store."""

from __future__ import annotations

import contextlib
import signal
import socket
from concurrent import futures

import grpc

from lro._client import Client
from lro.cli._logging import configure_logging
from lro.cli._security import ServeSecurity
from lro.serving import OperationsServicer, http_app

# Each WaitOperation in flight holds one worker while it waits (up to 600 s).
GRPC_WORKERS = 64


def _grpc_server(
    client: Client, host: str, port: int, security: ServeSecurity
) -> tuple[grpc.Server, int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=GRPC_WORKERS))
    OperationsServicer(client, auth=security.auth).add_to_server(server)
    bound = security.add_grpc_port(server, f"{host}:{port}")
    server.start()
    return server, bound


def _http_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(128)
    return listener


def _interrupt(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run_serve(
    url: str,
    host: str,
    grpc_port: int,
    http_port: int,
    log_level: str = "WARNING",
    *,
    security: ServeSecurity | None = None,
) -> int:
    """Serve until SIGINT or SIGTERM; prints the bound addresses (port 0 picks free ones).

    ``log_level`` applies to lro's loggers and to uvicorn's (its access log is INFO).
    The token file of ``security`` is read again on SIGHUP.
    """
    import uvicorn

    configure_logging(log_level)
    security = security or ServeSecurity()
    security.check(host)
    signal.signal(signal.SIGTERM, _interrupt)
    security.reload_tokens_on_sighup()
    with Client(url) as client, contextlib.suppress(KeyboardInterrupt):
        server, bound_grpc = _grpc_server(client, host, grpc_port, security)
        try:
            listener = _http_socket(host, http_port)
            port = listener.getsockname()[1]
            print(f"lro: gRPC on {host}:{bound_grpc}", flush=True)
            print(f"lro: HTTP on {security.http_scheme}://{host}:{port}", flush=True)
            app = http_app(client, ui=True, auth=security.auth)
            options = security.uvicorn_options()
            config = uvicorn.Config(app, log_level=log_level.lower(), lifespan="off", **options)
            uvicorn.Server(config).run(sockets=[listener])
        finally:
            server.stop(grace=1).wait()
    return 0
