"""Opening a store from a URL such as ``sqlite:///lro.db``."""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, urlsplit

from lro._core.errors import InvalidArgument
from lro._store.base import Store
from lro._store.spanner_config import SpannerConfig
from lro._store.sqlite import SqliteStore

DATABASE_URL_ENV = "LRO_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite:///lro.db"


def default_url() -> str:
    """``$LRO_DATABASE_URL``, else a SQLite file ``lro.db`` in the working folder."""
    return os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL


def open_store(url: str | SpannerConfig) -> Store:
    """The store that ``url`` names.

    ``sqlite:///relative.db`` and ``sqlite:////absolute.db`` open SQLite files; the
    options ``synchronous`` (FULL, NORMAL, ...) and ``busy_timeout_ms`` may follow
    as a query string. ``spanner:///projects/P/instances/I/databases/D`` (options
    ``table`` and ``database_role``) or a ``SpannerConfig`` opens Cloud Spanner.
    """
    if isinstance(url, SpannerConfig):
        from lro._store.spanner import SpannerStore

        return SpannerStore(url)
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return _open_sqlite(url, parts.netloc, parts.path, parts.query)
    if parts.scheme == "spanner":
        from lro._store.spanner import SpannerStore

        return SpannerStore(spanner_config(url))
    raise InvalidArgument(
        f"unsupported store URL scheme {parts.scheme!r} in {_redacted(url)!r}; "
        "expected sqlite:///path.db or spanner:///projects/P/instances/I/databases/D"
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


def _open_sqlite(url: str, host: str, path: str, query: str) -> SqliteStore:
    if host or not path.startswith("/") or len(path) < 2:
        raise InvalidArgument(
            f"bad SQLite URL {url!r}: expected sqlite:///relative.db or sqlite:////abs.db"
        )
    options = dict(parse_qsl(query, keep_blank_values=True))
    synchronous = options.pop("synchronous", "FULL")
    busy_timeout = options.pop("busy_timeout_ms", "5000")
    if options:
        raise InvalidArgument(f"unknown SQLite URL options {sorted(options)} in {url!r}")
    if not busy_timeout.isdigit():
        raise InvalidArgument(f"busy_timeout_ms must be a whole number, got {busy_timeout!r}")
    return SqliteStore(path[1:], synchronous=synchronous, busy_timeout_ms=int(busy_timeout))


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url
