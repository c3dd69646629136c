"""Stores on every backend that keeps wake-ups, for the clock and runner tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import fresh_postgres_url, fresh_spanner_url


@pytest.fixture(params=["sqlite", "postgresql", "spanner"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store on each backend that keeps wake-ups."""
    if request.param == "postgresql":
        return fresh_postgres_url(request.getfixturevalue("postgres_database_url"))
    if request.param == "spanner":
        return fresh_spanner_url(request.getfixturevalue("spanner_database"))
    return f"sqlite:///{tmp_path}/lro.db"
