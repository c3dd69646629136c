"""An HTTP ``:wait`` whose client disconnects ends then, quietly (issue 10, F13)."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest

import lro
from lro.serving import http_app
from tests.serving.conftest import UvicornThread

CLIENTS = 20
SETTLE_SECONDS = 30.0  # a bound on waiting for the server, not a measured time


class Records(logging.Handler):
    """Every record of the loggers it is attached to."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    loggers = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.error", "lro", "")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


def _until(condition: Callable[[], bool]) -> bool:
    """Whether ``condition`` holds within ``SETTLE_SECONDS`` (checked every 10 ms)."""
    ready = threading.Event()
    for _ in range(int(SETTLE_SECONDS * 100)):
        if condition():
            return True
        ready.wait(0.01)
    return condition()


def _send_wait(url: str, name: str, missing: int = 0) -> socket.socket:
    """A connection that sent ``POST {name}:wait``, short of ``missing`` body bytes."""
    parts = urlsplit(url)
    connection = socket.create_connection((parts.hostname, parts.port), timeout=30)
    connection.sendall(
        f"POST /v1/{name}:wait HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {2 + missing}\r\n\r\n{{}}".encode()
    )
    return connection


def test_a_wait_ends_when_its_client_disconnects(client: lro.Client, records: Records) -> None:
    running = client.new_operation()
    app = http_app(client)
    server = UvicornThread(app)
    try:
        connections = [_send_wait(server.url, running.name) for _ in range(CLIENTS)]
        assert _until(lambda: app.state.waits.in_flight == CLIENTS)
        for connection in connections:
            connection.close()
        assert _until(lambda: app.state.waits.in_flight == 0)
    finally:
        server.stop()
    assert not client.get_operation(running.name).done
    assert _noisy(records) == []


def _noisy(records: Records) -> list[logging.LogRecord]:
    return [r for r in records.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_client_gone_before_its_body_leaves_no_traceback(
    sqlite_client: lro.Client, records: Records
) -> None:
    running = sqlite_client.new_operation()
    server = UvicornThread(http_app(sqlite_client))
    try:
        for connection in [_send_wait(server.url, running.name, 10) for _ in range(CLIENTS)]:
            connection.close()
    finally:
        server.stop()  # uvicorn ends once every request it took has been answered
    assert _noisy(records) == []
