"""Fixtures shared by every test: stores on real backends."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import lro
from tests import spanner_emulator

BACKENDS = ["sqlite", "spanner"]


def _missing(service: str, reason: str) -> None:
    """Skip outside CI, fail in CI: a service the tests need is not there."""
    message = f"{service} is not available: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def spanner_host() -> Iterator[str]:
    """A running Spanner emulator with the test instance; sets SPANNER_EMULATOR_HOST."""
    binary = spanner_emulator.find_emulator()
    if binary is None:
        _missing("the Spanner emulator", "set SPANNER_EMULATOR_BIN")
    assert binary is not None
    saved = {
        k: os.environ.get(k) for k in ("SPANNER_EMULATOR_HOST", "SPANNER_DISABLE_BUILTIN_METRICS")
    }
    with spanner_emulator.running_emulator(binary) as host:
        os.environ["SPANNER_EMULATOR_HOST"] = host
        os.environ["SPANNER_DISABLE_BUILTIN_METRICS"] = "true"
        spanner_emulator.create_instance()
        yield host
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def spanner_database(spanner_host: str, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database for this test module; lro's migrations build its schema."""
    module = re.sub(r"[^a-z0-9]", "-", request.module.__name__.rsplit(".", 1)[-1].lower())
    database_id = f"m-{module}"[:30].rstrip("-")
    spanner_emulator.create_database(database_id, [])
    return database_id


def _spanner_url(request: pytest.FixtureRequest) -> str:
    database_id = request.getfixturevalue("spanner_database")
    config = lro.SpannerConfig(spanner_emulator.PROJECT, spanner_emulator.INSTANCE, database_id)
    with lro.Client(config) as client:  # applies the migrations, then empties the table
        client.store._database.execute_partitioned_dml("DELETE FROM lro_operations WHERE true")  # type: ignore[attr-defined]
    return (
        f"spanner:///projects/{config.project}/instances/{config.instance}/databases/{database_id}"
    )


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store on each backend."""
    if request.param == "spanner":
        return _spanner_url(request)
    return f"sqlite:///{tmp_path}/lro.db"


@pytest.fixture
def client(store_url: str) -> Iterator[lro.Client]:
    """A client on an empty store."""
    with lro.Client(store_url) as client:
        yield client
