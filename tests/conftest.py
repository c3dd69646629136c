"""Fixtures shared by every test: stores on real backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import lro

BACKENDS = ["sqlite"]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store on each backend."""
    assert request.param == "sqlite"
    return f"sqlite:///{tmp_path}/lro.db"


@pytest.fixture
def client(store_url: str) -> Iterator[lro.Client]:
    """A client on an empty store."""
    with lro.Client(store_url) as client:
        yield client
