"""Fixtures for durable waits: stores that keep wake-ups, and clients whose workers poll
fast, with short leases.

They run on SQLite, PostgreSQL and the Cloud Spanner emulator (lro's own Spanner
schema; on a Go package's table durable waits are refused).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import lro
from tests.conftest import fresh_postgres_url, fresh_spanner_url

DURABLE_BACKENDS = ["sqlite", "postgresql", "spanner"]

FAST = lro.WorkerSettings(
    threads=4, lease=2.0, poll_interval=0.05, retry_delay=0.01, max_retry_delay=0.05
)


@pytest.fixture(params=DURABLE_BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store on each backend that keeps wake-ups."""
    if request.param == "postgresql":
        return fresh_postgres_url(request.getfixturevalue("postgres_database_url"))
    if request.param == "spanner":
        return fresh_spanner_url(request.getfixturevalue("spanner_database"))
    return f"sqlite:///{tmp_path}/lro.db"


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
