"""A scratch PostgreSQL database for benchmarks, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

DSN_ENV = "LRO_BENCH_POSTGRES_DSN"
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def scratch_database() -> Iterator[str]:
    """The URL of a new database on ``$LRO_BENCH_POSTGRES_DSN`` (or the local server)."""
    admin_url = os.environ.get(DSN_ENV) or DEFAULT_DSN
    name = f"lro_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}", query=""))
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def schema_url(database_url: str, label: str) -> str:
    """A store URL in a fresh schema of ``database_url``."""
    return f"{database_url}?schema={label}_{uuid.uuid4().hex[:8]}"
