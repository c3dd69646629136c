"""Retention on Spanner: done operations deleted in read-write transactions, a batch each.

On lro's own table a batch reads the names it deletes in the same transaction, so
Spanner's locks keep any of them from changing in between. A Go package's table is left
to the row deletion policy that Go's schema puts on it (see docs/reference/retention.md).
"""

from __future__ import annotations

from typing import Any

from google.cloud.spanner_v1 import KeySet, param_types

from lro._core.errors import FailedPrecondition
from lro._store.base import COLLECTION_PARAMETER, PurgeQuery, purge_conditions
from lro._store.queries import load_queries
from lro._store.spanner_layouts import OWN_TABLE, Layout, OwnLayout
from lro._store.spanner_listing import FILTER_SLOT, OWN_DIALECT
from lro._store.spanner_wakeups import forget_wakeups

_RETENTION = load_queries("spanner", "retention.sql")
GO_TABLE_REFUSAL = (
    "purge works on lro's own Spanner schema; a Go package's table is kept by the row "
    "deletion policy on its UpdateTime column (Go's schema keeps 90 days)"
)


def purgeable_sql(layout: Layout, query_name: str, query: PurgeQuery) -> tuple[str, dict[str, Any]]:
    """The SQL of ``query_name`` for ``query`` and its parameters; FailedPrecondition on
    a Go package's table."""
    if not isinstance(layout, OwnLayout):
        raise FailedPrecondition(GO_TABLE_REFUSAL)
    compiled = purge_conditions(query, OWN_DIALECT)
    sql = _RETENTION[query_name].replace(FILTER_SLOT, compiled.sql)
    params = {**compiled.params, "before_us": query.before_us}
    if "@limit" in sql:
        params["limit"] = query.limit
    return sql, params


PARAM_TYPES = {
    COLLECTION_PARAMETER: param_types.STRING,
    "before_us": param_types.INT64,
    "limit": param_types.INT64,
}


def purge_in(transaction: Any, layout: Layout, query: PurgeQuery) -> int:
    """In ``transaction``: delete up to ``query.limit`` operations that ``query``
    selects, and their wake-ups; how many went."""
    sql, params = purgeable_sql(layout, "purgeable_operations", query)
    rows = transaction.execute_sql(sql, params=params, param_types=_types(params))
    names = [str(row[0]) for row in rows]
    if names:
        transaction.delete(OWN_TABLE, KeySet(keys=[[name] for name in names]))  # type: ignore[no-untyped-call]
        forget_wakeups(transaction, names)
    return len(names)


def _types(params: dict[str, Any]) -> dict[str, Any]:
    """The declared types of the fixed parameters; the filter's are inferred."""
    return {name: kind for name, kind in PARAM_TYPES.items() if name in params}
