"""SQL kept in files: ``-- name: x`` blocks and numbered migrations."""

from __future__ import annotations

import re
from importlib import resources

_NAME_LINE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def load_queries(backend: str, file_name: str = "queries.sql") -> dict[str, str]:
    """The named queries of ``backend`` from ``sql/{backend}/{file_name}``."""
    text = resources.files("lro._store").joinpath("sql", backend, file_name).read_text()
    parts = _NAME_LINE.split(text)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def load_migrations(backend: str) -> list[tuple[int, str, str]]:
    """``(number, file name, sql)`` of ``migrations/{backend}/NNNN_*.sql``, in order."""
    folder = resources.files("lro._store").joinpath("migrations", backend)
    migrations = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            migrations.append((number, entry.name, entry.read_text()))
    return sorted(migrations)
