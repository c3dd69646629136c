"""``lro serve``'s listeners: a taken port is one line, and the HTTP connections it
accepts send small writes at once."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lro.cli._serve import http_socket


class _Accepted(asyncio.Protocol):
    def __init__(self, accepted: asyncio.Future[asyncio.BaseTransport]) -> None:
        self.accepted = accepted

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.accepted.set_result(transport)


async def _accepted_nodelay() -> int:
    listener = http_socket("127.0.0.1", 0)
    loop = asyncio.get_running_loop()
    accepted: asyncio.Future[asyncio.BaseTransport] = loop.create_future()
    server = await loop.create_server(lambda: _Accepted(accepted), sock=listener)
    async with server:
        _, writer = await asyncio.open_connection(*listener.getsockname())
        transport = await asyncio.wait_for(accepted, 30)
        accepted_socket = transport.get_extra_info("socket")
        nodelay = int(accepted_socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        transport.close()
        writer.close()
    return nodelay


def test_accepted_connections_have_nagle_off() -> None:
    """Else uvicorn's response body waits for the client's delayed ACK (~40 ms)."""
    assert asyncio.run(_accepted_nodelay()) != 0


@pytest.mark.parametrize("transport", ["gRPC", "HTTP"])
def test_a_taken_port_is_one_line(tmp_path: Path, transport: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        ports = ["--grpc-port", port, "--http-port", "0"]
        if transport == "HTTP":
            ports = ["--grpc-port", "0", "--http-port", port]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "lro.cli",
                "serve",
                "--db",
                f"sqlite:///{tmp_path}/lro.db",
                *ports,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]  # gRPC's core may log a line of its own first
    assert last.startswith(f"lro: FailedPrecondition: cannot listen on 127.0.0.1:{port}")
    assert f"({transport})" in last
    assert result.stdout == ""  # nothing was served
