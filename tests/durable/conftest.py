"""Fixtures for durable waits: clients whose workers poll fast, with short leases."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

import lro

FAST = lro.WorkerSettings(
    threads=4, lease=2.0, poll_interval=0.05, retry_delay=0.01, max_retry_delay=0.05
)


@pytest.fixture
def durable_client(store_url: str) -> Iterator[lro.Client]:
    """A client whose embedded worker starts on demand with fast settings."""
    client = lro.Client(store_url, worker=FAST)
    yield client
    client.close(grace=5)


def eventually(condition: Callable[[], bool], timeout: float = 10) -> bool:
    """Whether ``condition()`` becomes true within ``timeout`` seconds (checked often)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
