"""Where a Spanner store lives (no Spanner client needed to name it)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class SpannerConfig:
    """Where the operations live on Cloud Spanner.

    ``table`` None uses lro's own schema (made by its migrations); a table made for the
    Go package (``key``, ``Operation``, ``State``, ``ResumePoint``, and optionally
    ``Method`` and ``UpdateTime``) is used as it is, so Go and Python services can
    share it. The Go package's default is ``SpannerConfig.go_table_name(project)``.
    """

    project: str
    instance: str
    database: str
    database_role: str | None = None
    table: str | None = None

    @staticmethod
    def go_table_name(project: str) -> str:
        """The Go package's table name for ``project``."""
        return f"{project.replace('-', '_')}_AlisManagedOperations"
