"""Fixtures shared by every test: stores on real backends.

``store_url`` and ``client`` run each test on SQLite and on PostgreSQL. PostgreSQL comes
from ``$LRO_TEST_POSTGRES_DSN`` (default: the local server as user postgres); the
session makes its own database there and each test gets a fresh schema in it. Without
a reachable server the PostgreSQL cases are skipped with the reason, except under
``CI=true``, where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest

import lro

BACKENDS = ["sqlite", "postgresql"]
POSTGRES_DSN_ENV = "LRO_TEST_POSTGRES_DSN"
DEFAULT_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip with ``reason``; in CI (``CI=true``) a missing service fails instead."""
    if os.environ.get("CI", "").lower() in ("true", "1"):
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


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store on each backend."""
    if request.param == "postgresql":
        database_url: str = request.getfixturevalue("postgres_database_url")
        return fresh_postgres_url(database_url)
    return f"sqlite:///{tmp_path}/lro.db"


@pytest.fixture
def client(store_url: str) -> Iterator[lro.Client]:
    """A client on an empty store."""
    with lro.Client(store_url) as client:
        yield client
