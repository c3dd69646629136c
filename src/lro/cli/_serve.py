"""``lro serve``: the Operations service over gRPC and HTTP/JSON for one store.

Both ports are served on one asyncio loop: gRPC by ``grpc.aio`` and HTTP by uvicorn, so
that a WaitOperation or ``:wait`` holds no thread and never starves the reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import grpc.aio

from lro._client import Client
from lro._core.errors import FailedPrecondition
from lro.cli._logging import configure_logging
from lro.cli._security import ServeSecurity
from lro.serving import AsyncOperationsServicer
from lro.serving._requests import Waits
from lro.serving._tls import SHUTDOWN_SECONDS

if TYPE_CHECKING:
    import uvicorn

GRPC_GRACE_SECONDS = 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class ServeOptions:
    """Where and what ``lro serve`` serves: a port of None is not served (0 picks a
    free one); ``access_log`` turns on uvicorn's access log at INFO."""

    host: str = "127.0.0.1"
    grpc_port: int | None = 50051
    http_port: int | None = 8080
    log_level: str = "WARNING"
    access_log: bool = False


def _require_http() -> None:
    """FailedPrecondition, in one line, if the ``lro[http]`` extra is missing."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise FailedPrecondition(
            f"the HTTP port needs: pip install 'lro[http]' ({exc}); "
            "or serve gRPC alone with --no-http"
        ) from None


def http_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket for uvicorn.

    Its protocol is named, so that asyncio turns off Nagle's algorithm on the
    connections it accepts: uvicorn writes a response's head and body apart, and with
    the client's delayed ACK each response would wait ~40 ms for the body.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise FailedPrecondition(f"cannot listen on {host}:{port} (HTTP): {exc.strerror}") from None
    listener.listen(128)
    return listener


async def _start_grpc(
    client: Client, options: ServeOptions, port: int, security: ServeSecurity
) -> tuple[grpc.aio.Server, Waits]:
    server = grpc.aio.server()
    servicer = AsyncOperationsServicer(client, auth=security.auth)
    servicer.add_to_server(server)
    address = f"{options.host}:{port}"
    try:
        bound = security.add_grpc_port(server, address)
    except RuntimeError:  # grpc says no more than "Failed to bind"
        raise FailedPrecondition(
            f"cannot listen on {address} (gRPC): the port is taken, or the address is not "
            "this machine's"
        ) from None
    await server.start()
    print(f"lro: gRPC on {options.host}:{bound}", flush=True)
    return server, servicer.waits


def _http_server(
    client: Client, options: ServeOptions, security: ServeSecurity
) -> tuple[uvicorn.Server, Waits]:
    """uvicorn serving the HTTP app, and the app's waits."""
    import uvicorn

    from lro.serving import http_app

    class Server(uvicorn.Server):
        """uvicorn leaving the signals to ``lro serve``."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    app = http_app(client, ui=True, auth=security.auth)
    settings: dict[str, Any] = {"timeout_graceful_shutdown": SHUTDOWN_SECONDS}
    settings.update(security.uvicorn_options())
    config = uvicorn.Config(
        app,
        log_level=options.log_level.lower(),
        lifespan="off",
        access_log=options.access_log,
        **settings,
    )
    if options.access_log:  # uvicorn.Config has set its loggers' levels
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    waits: Waits = app.state.waits
    return Server(config), waits


async def _serve_http(
    client: Client,
    options: ServeOptions,
    security: ServeSecurity,
    listener: socket.socket | None,
    stopping: Stopping,
) -> None:
    """Serve HTTP on ``listener`` (if any) until ``stopping`` is set."""
    if listener is None:
        await stopping.wait()
        return
    port = listener.getsockname()[1]
    print(f"lro: HTTP on {security.http_scheme}://{options.host}:{port}", flush=True)
    server, waits = _http_server(client, options, security)
    stopping.waits.append(waits)
    serving = asyncio.ensure_future(server.serve(sockets=[listener]))
    stopped = asyncio.ensure_future(stopping.wait())
    await asyncio.wait((serving, stopped), return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    server.should_exit = True
    await serving


class Stopping(asyncio.Event):
    """Set on SIGINT or SIGTERM; first, the waits in flight answer the latest state."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[Waits] = []

    def set(self) -> None:
        for waits in self.waits:
            waits.end()
        super().set()


async def _serve(client: Client, options: ServeOptions, security: ServeSecurity) -> None:
    stopping = Stopping()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stopping.set)
    security.reload_tokens_on_sighup()
    listener = None  # bound first, so that a taken port stops the command before it serves
    if options.http_port is not None:
        listener = http_socket(options.host, options.http_port)
    grpc_server = None
    if options.grpc_port is not None:
        grpc_server, grpc_waits = await _start_grpc(client, options, options.grpc_port, security)
        stopping.waits.append(grpc_waits)
    try:
        await _serve_http(client, options, security, listener, stopping)
    finally:
        if grpc_server is not None:
            await grpc_server.stop(GRPC_GRACE_SECONDS)


def run_serve(
    url: str, options: ServeOptions | None = None, *, security: ServeSecurity | None = None
) -> int:
    """Serve until SIGINT or SIGTERM; prints the bound addresses (port 0 picks free ones).

    ``options.log_level`` applies to lro's loggers and to uvicorn's. The token file of
    ``security`` is read again on SIGHUP.
    """
    options = options or ServeOptions()
    if options.http_port is not None:
        _require_http()
    configure_logging(options.log_level)
    security = security or ServeSecurity()
    security.check(options.host)
    with Client(url) as client:
        asyncio.run(_serve(client, options, security))
    return 0
