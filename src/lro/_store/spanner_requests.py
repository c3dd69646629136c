"""AIP-155 request ids on Spanner: looked up in the insert's own transaction.

lro's own schema keeps them in ``lro_operations.request_id`` with a unique index per
collection. A Go package's table has no such column: an insert with a request id is
refused there (FailedPrecondition), never stored without it.
"""

from __future__ import annotations

from typing import Any

from google.cloud.spanner_v1 import KeySet

from lro._core.errors import FailedPrecondition
from lro._core.names import collection_of
from lro._store.base import DuplicateRequest, OperationRecord
from lro._store.spanner_layouts import OWN_TABLE, Layout, OwnLayout

REQUEST_INDEX = "lro_operations_by_request_id"  # (collection, request_id), unique
GO_TABLE_REQUEST_REFUSAL = (
    "request ids need lro's own Spanner schema: a Go package's table has no column for "
    "them; open the store without table=, or create the operation without request_id"
)


def refuse_request_on(layout: Layout, record: OperationRecord) -> None:
    """FailedPrecondition if ``record`` has a request id that ``layout`` cannot keep."""
    if record.request_id and not isinstance(layout, OwnLayout):
        raise FailedPrecondition(GO_TABLE_REQUEST_REFUSAL)


def check_request_in(transaction: Any, record: OperationRecord) -> None:
    """DuplicateRequest if ``record``'s request id was used before in its collection.

    Read in the inserting transaction: of two inserts with one request id, Spanner
    aborts one (the emulator runs them one at a time), and its retry finds the other.
    """
    if not record.request_id:
        return
    key = [collection_of(record.name), record.request_id]
    keys = KeySet(keys=[key])  # type: ignore[no-untyped-call]
    for row in transaction.read(OWN_TABLE, ["name"], keys, index=REQUEST_INDEX):
        raise DuplicateRequest(str(row[0]))
