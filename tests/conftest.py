"""Fixtures shared by every test: stores on real backends.

``store_url`` and ``client`` run each test on SQLite, PostgreSQL and the Cloud Spanner
emulator. PostgreSQL comes from ``$LRO_TEST_POSTGRES_DSN`` (default: the local server as
user postgres); the session makes its own database there and each test gets a fresh
schema in it. The Spanner emulator is started by the session (``$SPANNER_EMULATOR_BIN``,
else what ``shared/tools/spanner-emulator`` finds); each test module gets a fresh
database, emptied before each test. Without a service its cases are skipped with the
reason, except under ``CI=true``, where that is a failure (and so is any other skip).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest

import lro
from tests import spanner_emulator
from tests.ci_skips import (  # the hooks: under CI=true, every skip fails
    in_ci,
    pytest_make_collect_report,  # noqa: F401
    pytest_runtest_makereport,  # noqa: F401
)

BACKENDS = ["sqlite", "postgresql", "spanner"]
POSTGRES_DSN_ENV = "LRO_TEST_POSTGRES_DSN"
DEFAULT_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
SPANNER_ENV = ("SPANNER_EMULATOR_HOST", "SPANNER_DISABLE_BUILTIN_METRICS")


def skip_or_fail(reason: str) -> NoReturn:
    """Skip with ``reason``; in CI (``CI=true``) a missing service fails instead."""
    if in_ci():
        pytest.fail(f"{reason} (CI needs it)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """The URL of a database made for this test session, dropped at its end."""
    admin_url = os.environ.get(POSTGRES_DSN_ENV) or DEFAULT_POSTGRES_DSN
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        skip_or_fail("psycopg is not installed (pip install 'lro[postgres]')")
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        skip_or_fail(f"no PostgreSQL at {admin_url} (${POSTGRES_DSN_ENV} or default): {exc}")
    name = f"lro_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}", query=""))
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def fresh_postgres_url(database_url: str) -> str:
    """A URL of an empty store: a new schema in the session's database."""
    return f"{database_url}?schema=t_{uuid.uuid4().hex[:16]}"


@pytest.fixture(scope="session")
def spanner_host() -> Iterator[str]:
    """A running Spanner emulator with the test instance; sets SPANNER_EMULATOR_HOST."""
    binary = spanner_emulator.find_emulator()
    if binary is None:
        skip_or_fail("no Spanner emulator ($SPANNER_EMULATOR_BIN or shared/tools)")
    saved = {key: os.environ.get(key) for key in SPANNER_ENV}
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
    database_id = f"m-{module[:18]}-{uuid.uuid4().hex[:6]}"
    spanner_emulator.create_database(database_id, [])
    return database_id


def fresh_spanner_url(database_id: str) -> str:
    """A URL of an empty store: the module's database, its tables emptied."""
    config = lro.SpannerConfig(spanner_emulator.PROJECT, spanner_emulator.INSTANCE, database_id)
    with lro.Client(config) as client:  # applies the migrations, then empties the tables
        spanner_emulator.empty_tables(client.store)
    return (
        f"spanner:///projects/{config.project}/instances/{config.instance}/databases/{database_id}"
    )


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store on each backend."""
    if request.param == "postgresql":
        database_url: str = request.getfixturevalue("postgres_database_url")
        return fresh_postgres_url(database_url)
    if request.param == "spanner":
        return fresh_spanner_url(request.getfixturevalue("spanner_database"))
    return f"sqlite:///{tmp_path}/lro.db"


@pytest.fixture
def client(store_url: str) -> Iterator[lro.Client]:
    """A client on an empty store."""
    with lro.Client(store_url) as client:
        yield client
