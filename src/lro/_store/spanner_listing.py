"""Listing on Spanner: keyset pages of lro's own table, or of a Go package's table."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from lro._core.filters import (
    OPERATION_COLUMNS,
    InvalidFilter,
    SqlDialect,
    compile_filter,
    fields_of,
    matches,
)
from lro._core.listing import ListQuery, keyset_parameters
from lro._store.base import OperationRecord
from lro._store.queries import load_queries
from lro._store.spanner_layouts import GoLayout, Layout, OwnLayout

_QUERIES = load_queries("spanner")
FILTER_SLOT = "/*filter*/"
OWN_DIALECT = SqlDialect(
    placeholder="@{}",
    columns=OPERATION_COLUMNS,
)
GO_SCAN_BATCH = 500

Query = Callable[[str, dict[str, Any]], Iterable[Any]]


def list_page(layout: Layout, query: ListQuery, run: Query) -> list[OperationRecord]:
    """One page of ``query``; ``run(sql, params)`` executes a read-only query."""
    if isinstance(layout, OwnLayout):
        return _own_page(layout, query, run)
    assert isinstance(layout, GoLayout)
    return _go_page(layout, query, run)


def _own_page(layout: OwnLayout, query: ListQuery, run: Query) -> list[OperationRecord]:
    compiled = compile_filter(query.filter, OWN_DIALECT)
    sql = _QUERIES["list_own"].format(columns=", ".join(layout.read_columns))
    params = {**compiled.params, **keyset_parameters(query)}
    rows = run(sql.replace(FILTER_SLOT, compiled.sql), params)
    return [layout.listed_from_row(row) for row in rows]


def _go_page(layout: GoLayout, query: ListQuery, run: Query) -> list[OperationRecord]:
    """A Go table keeps its fields inside a PROTO column whose bundle may lack the
    nested types, so the filter is applied here, on rows read in name order."""
    unknown = fields_of(query.filter) - layout.filter_fields
    if unknown:
        raise InvalidFilter(f"a Go package's table does not keep {sorted(unknown)}")
    sql = _QUERIES["list_go"].format(columns=", ".join(layout.read_columns), table=layout.table)
    sql = sql.replace(FILTER_SLOT, "TRUE")
    prefix = f"{query.collection}/"
    after_name = query.after.name if query.after else ""
    page: list[OperationRecord] = []
    while len(page) < query.limit:
        params = {
            "collection_prefix": prefix,
            "prefix_length": len(prefix),
            "after_name": after_name,
            "limit": GO_SCAN_BATCH,
        }
        records = [layout.listed_from_row(row) for row in run(sql, params)]
        page.extend(r for r in records if matches(query.filter, _filter_values(r)))
        if len(records) < GO_SCAN_BATCH:
            break
        after_name = records[-1].name
    return page[: query.limit]


def _filter_values(record: OperationRecord) -> dict[str, object]:
    return {
        "done": record.done,
        "error.code": record.error_code or 0,
        "metadata_type": record.metadata_type,
        "create_time": record.create_time_us,
        "update_time": record.update_time_us,
        "name": record.name,
    }
