"""Retention (AIP-151 expiry): deleting done operations, a short transaction a batch."""

from __future__ import annotations

import threading
import time

from lro._core.errors import FailedPrecondition
from lro._store.base import PurgeQuery, PurgingStore, Store

# After each batch the purge rests as long as the batch took, so that the writers it
# holds up (SQLite has one write lock) get at least half of the time.
REST_RATIO = 1.0


def purging_store(store: Store) -> PurgingStore:
    """``store`` if it can purge, else FailedPrecondition."""
    if not callable(getattr(store, "purge_batch", None)) or not callable(
        getattr(store, "count_purgeable", None)
    ):
        raise FailedPrecondition(f"{type(store).__name__} cannot purge operations")
    return store  # type: ignore[return-value]


def purge(
    store: Store,
    query: PurgeQuery,
    *,
    dry_run: bool = False,
    stopping: threading.Event | None = None,
) -> int:
    """Delete what ``query`` selects, batch after batch, until a batch finds nothing or
    ``stopping`` is set; how many went (with ``dry_run``: how many would go now)."""
    purging = purging_store(store)
    if dry_run:
        return purging.count_purgeable(query)
    stopping = stopping or threading.Event()
    total = 0
    while not stopping.is_set():
        started = time.monotonic()
        deleted = purging.purge_batch(query)
        if deleted == 0:
            break
        total += deleted
        stopping.wait((time.monotonic() - started) * REST_RATIO)
    return total
