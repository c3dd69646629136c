"""A client for the races: its worker polls fast, as in the durable tests, but holds
its leases for 30 s, so that a handler is run twice only if two claims took the
same wake-up, never because a loaded machine let a short lease run out."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

import lro
from tests.durable.conftest import FAST

RACING = dataclasses.replace(FAST, lease=30.0)


@pytest.fixture
def racing_client(store_url: str) -> Iterator[lro.Client]:
    """A client on an empty store (each backend), its worker started on demand."""
    client = lro.Client(store_url, worker=RACING)
    yield client
    client.close(grace=5)
