"""The api tests run twice: on ``lro.Client``, and on ``lro.aio.Client`` through the
sync adapter of ``tests.aio_face`` (one test, two faces)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest

import lro
from tests.aio_face import SyncClient, aio_client, sync_wait_operation

FACES = ["sync", "aio"]


@pytest.fixture(params=FACES)
def face(request: pytest.FixtureRequest) -> str:
    """Which face of lro the test runs on."""
    return str(request.param)


@pytest.fixture
def client(store_url: str, face: str) -> Iterator[lro.Client]:
    """A client on an empty store, of the test's face."""
    if face == "sync":
        with lro.Client(store_url) as client:
            yield client
        return
    with aio_client(store_url) as adapted:
        yield cast(lro.Client, adapted)


@pytest.fixture
def wait_operation(client: lro.Client) -> Callable[..., Any]:
    """``lro.wait_operation`` of the test's face."""
    if isinstance(client, SyncClient):
        return sync_wait_operation(client)
    return lro.wait_operation
