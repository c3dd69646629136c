"""PostgreSQL connection settings: lro's URL options, secrets kept out of messages."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from lro._core.errors import InvalidArgument

SCHEMES = ("postgresql", "postgres")
SCHEMA_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,47}")
DEFAULT_POOL_MAX_SIZE = 10
DEFAULT_POOL_TIMEOUT = 10.0
_PASSWORD_IN_KEYWORDS = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")


@dataclasses.dataclass(frozen=True, slots=True)
class PostgresSettings:
    """What a ``postgresql://`` URL asks for: libpq's part and lro's options."""

    conninfo: str
    schema: str | None = None
    pool_max_size: int = DEFAULT_POOL_MAX_SIZE
    pool_timeout: float = DEFAULT_POOL_TIMEOUT


def parse_postgres_url(url: str) -> PostgresSettings:
    """Split ``url`` into the libpq connection string and lro's own options.

    lro's options are ``schema`` (tables in this schema, created if missing),
    ``pool_max_size`` and ``pool_timeout`` (seconds to wait for a free connection);
    every other query parameter goes to libpq (``sslmode``, ``connect_timeout``, ...).
    """
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise InvalidArgument(f"not a PostgreSQL URL: {redact(url, url)!r}")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    schema = options.pop("schema", None)
    pool_max_size = _number(options.pop("pool_max_size", None), int, DEFAULT_POOL_MAX_SIZE)
    pool_timeout = _number(options.pop("pool_timeout", None), float, DEFAULT_POOL_TIMEOUT)
    conninfo = urlunsplit(parts._replace(query=urlencode(options)))
    return PostgresSettings(conninfo, schema, int(pool_max_size), float(pool_timeout))


def check_settings(schema: str | None, pool_max_size: int, pool_timeout: float) -> None:
    """Raise InvalidArgument for a schema name or pool option lro cannot use."""
    if schema is not None and not SCHEMA_PATTERN.fullmatch(schema):
        raise InvalidArgument(
            f"schema must be 1 to 48 lowercase letters, digits or '_', got {schema!r}"
        )
    if pool_max_size < 1:
        raise InvalidArgument(f"pool_max_size must be at least 1, got {pool_max_size}")
    if not pool_timeout > 0:
        raise InvalidArgument(f"pool_timeout must be a positive number, got {pool_timeout}")


def _number(text: str | None, kind: Callable[[str], float | int], default: float) -> float | int:
    if text is None:
        return default
    try:
        return kind(text)
    except ValueError:
        raise InvalidArgument(f"expected a number in the PostgreSQL URL, got {text!r}") from None


def secrets_in(conninfo: str) -> list[str]:
    """The password in ``conninfo`` (a URL or key=value string), as written and decoded."""
    found: list[str] = []
    if "://" in conninfo:
        try:
            password = urlsplit(conninfo).password
        except ValueError:
            password = None
        if password:
            found += [password, unquote(password)]
    for match in _PASSWORD_IN_KEYWORDS.finditer(conninfo):
        found.append(match.group(2).strip("'"))
    return sorted({secret for secret in found if secret}, key=len, reverse=True)


def redact(text: str, conninfo: str) -> str:
    """``text`` with every password from ``conninfo`` replaced by ``***``."""
    for secret in secrets_in(conninfo):
        text = text.replace(secret, "***")
    return text
