"""Opening a store from a URL such as ``sqlite:///lro.db``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from lro._core.clock import SYSTEM_CLOCK, Clock
from lro._core.errors import FailedPrecondition, InvalidArgument
from lro._store.base import Store
from lro._store.postgres_settings import SCHEMES, parse_postgres_url, redact
from lro._store.spanner_config import SpannerConfig
from lro._store.sql_store import PostgresStore, SqliteStore
from lro._store.sqlite_watch import DEFAULT_CHANGE_POLL_INTERVAL

if TYPE_CHECKING:
    from lro._store.spanner import SpannerStore

DATABASE_URL_ENV = "LRO_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite:///lro.db"


def default_url() -> str:
    """``$LRO_DATABASE_URL``, else a SQLite file ``lro.db`` in the working folder."""
    return os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL


def open_store(
    url: str | SpannerConfig, *, clock: Clock = SYSTEM_CLOCK, create: bool = True
) -> Store:
    """The store that ``url`` names.

    ``sqlite:///relative.db`` and ``sqlite:////absolute.db`` open SQLite files; the
    options ``synchronous`` (FULL, NORMAL, ...), ``busy_timeout_ms``,
    ``change_poll_ms`` and ``mode`` (``ro`` for read-only, ``rw``, ``rwc``) may follow
    as a query string. ``create=False`` never makes a SQLite file: one that is missing
    is FailedPrecondition. ``postgresql://`` (or
    ``postgres://``) URLs open PostgreSQL (the ``lro[postgres]`` extra); see
    ``parse_postgres_url`` for their options. ``spanner:///projects/P/instances/I/databases/D``
    (options ``table`` and ``database_role``) or a ``SpannerConfig`` opens Cloud Spanner.
    The store reads the time from ``clock``.
    """
    if isinstance(url, SpannerConfig):
        return _spanner_store()(url, clock=clock)
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return _open_sqlite(url, parts.netloc, parts.path, parts.query, clock=clock, create=create)
    if parts.scheme in SCHEMES:
        return _open_postgres(url, clock)
    if parts.scheme == "spanner":
        return _spanner_store()(spanner_config(url), clock=clock)
    raise InvalidArgument(
        f"unsupported store URL scheme {parts.scheme!r} in {redact(url, url)!r}; "
        "expected sqlite:///path.db, postgresql://user@host/database or "
        "spanner:///projects/P/instances/I/databases/D"
    )


def spanner_config(url: str) -> SpannerConfig:
    """The config in ``spanner:///projects/P/instances/I/databases/D?table=T&database_role=R``."""
    parts = urlsplit(url)
    segments = parts.path.strip("/").split("/")
    if (
        parts.netloc
        or len(segments) != 6
        or segments[0::2] != ["projects", "instances", "databases"]
        or not all(segments[1::2])
    ):
        raise InvalidArgument(
            f"bad Spanner URL {url!r}: expected spanner:///projects/P/instances/I/databases/D"
        )
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    table = options.pop("table", None)
    role = options.pop("database_role", None)
    if options:
        raise InvalidArgument(f"unknown Spanner URL options {sorted(options)} in {url!r}")
    return SpannerConfig(segments[1], segments[3], segments[5], role or None, table or None)


def _open_sqlite(
    url: str, host: str, path: str, query: str, *, clock: Clock, create: bool
) -> SqliteStore:
    if host or not path.startswith("/") or len(path) < 2:
        raise InvalidArgument(
            f"bad SQLite URL {url!r}: expected sqlite:///relative.db or sqlite:////abs.db"
        )
    options = dict(parse_qsl(query, keep_blank_values=True))
    synchronous = options.pop("synchronous", "FULL")
    busy_timeout = options.pop("busy_timeout_ms", "5000")
    change_poll = options.pop("change_poll_ms", str(round(DEFAULT_CHANGE_POLL_INTERVAL * 1000)))
    mode = options.pop("mode", "rwc" if create else "rw")
    if mode == "rwc" and not create:
        mode = "rw"
    if options:
        raise InvalidArgument(f"unknown SQLite URL options {sorted(options)} in {url!r}")
    for option, value in (("busy_timeout_ms", busy_timeout), ("change_poll_ms", change_poll)):
        if not value.isdigit():
            raise InvalidArgument(f"{option} must be a whole number, got {value!r}")
    return SqliteStore(
        path[1:],
        synchronous=synchronous,
        busy_timeout_ms=int(busy_timeout),
        change_poll_interval=int(change_poll) / 1000,
        clock=clock,
        mode=mode,
    )


def _spanner_store() -> type[SpannerStore]:
    """``SpannerStore``, or FailedPrecondition naming the extra that it needs."""
    try:
        from lro._store.spanner import SpannerStore
    except ImportError as exc:
        raise FailedPrecondition(
            f"Cloud Spanner needs its client: pip install 'lro[spanner]' ({exc})"
        ) from None
    return SpannerStore


def _open_postgres(url: str, clock: Clock) -> Store:
    settings = parse_postgres_url(url)
    try:
        import lro._store.connectors.postgresql  # noqa: F401 (the postgres extra)
    except ImportError as exc:
        raise FailedPrecondition(
            f"PostgreSQL needs the driver: pip install 'lro[postgres]' ({exc})"
        ) from None
    return PostgresStore(
        settings.conninfo,
        schema=settings.schema,
        pool_max_size=settings.pool_max_size,
        pool_timeout=settings.pool_timeout,
        clock=clock,
    )
