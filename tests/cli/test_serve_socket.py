"""``lro serve``'s HTTP listener: the connections it accepts send small writes at once."""

from __future__ import annotations

import asyncio
import socket

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
