"""The worker's retention: a thread that purges old done operations now and then."""

from __future__ import annotations

import logging
import threading

from lro._core.durations import Duration, seconds
from lro._runtime import Runtime
from lro._store.base import PurgeQuery
from lro._store.retention import purge, purging_store

logger = logging.getLogger("lro.worker")


class PeriodicPurge:
    """Deletes, at start and then every ``interval`` seconds, the done operations of
    every collection not updated for ``retention`` (the runtime's clock)."""

    def __init__(self, runtime: Runtime, retention: Duration, interval: float) -> None:
        # FailedPrecondition now if the store cannot purge (one query, of nothing).
        purging_store(runtime.store).count_purgeable(PurgeQuery(None, None, 0))
        self.runtime = runtime
        self.retention_us = round(seconds(retention, "retention") * 1_000_000)
        self.interval = interval
        self.deleted = 0  # so far
        self.runs = 0  # purges ended so far
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lro-purge", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self.purge_once()
            self.runtime.clock.wait(self._stopping, self.interval)

    def purge_once(self) -> int:
        """Purge once; how many went (0 after an error, which is logged)."""
        query = PurgeQuery(None, None, self.runtime.clock.now_us() - self.retention_us)
        try:
            deleted = purge(self.runtime.store, query, stopping=self._stopping)
        except Exception:
            logger.exception("retention: purging operations failed")
            return 0
        finally:
            self.runs += 1
        self.deleted += deleted
        if deleted:
            logger.info("retention: deleted %d done operations", deleted)
        return deleted

    def stop(self) -> None:
        """Stop after the current batch."""
        self._stopping.set()
        self._thread.join()
