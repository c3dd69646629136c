"""Running the due wake-ups of a runtime in the calling thread, with no worker threads.

``lro.testing`` drives time by hand: after each move of its clock, the wake-ups that
became due run here, one at a time, as a worker would run them (the same claims,
leases, retries and outcomes), until none is due.
"""

from __future__ import annotations

import uuid

from lro._core.errors import Aborted
from lro._resume.channels import Channels
from lro._resume.plan import micros, wakeup_store
from lro._resume.run import Resumption
from lro._resume.worker import WorkerSettings
from lro._runtime import Runtime
from lro._store.base import Wakeup

DEFAULT_MAX_RUNS = 10_000


class InlineRunner:
    """Claims and runs the due wake-ups of ``runtime``'s store in the calling thread."""

    def __init__(self, runtime: Runtime, settings: WorkerSettings | None = None) -> None:
        self.settings = settings or WorkerSettings()
        self.runtime = runtime
        self.store = wakeup_store(runtime.store)
        self.owner = f"inline/{uuid.uuid4().hex[:8]}"
        self._channels = Channels()
        self._resumption = Resumption(
            runtime, self.store, self._channels, self.settings.run_settings()
        )

    def run_until_idle(self, max_runs: int = DEFAULT_MAX_RUNS) -> int:
        """Run due wake-ups until none is due; returns how many ran.

        Each one counts: a handler run (finished, failed or waiting again), and a
        wake-up that only looked (children behind an endpoint still running, or an
        operation that ended meanwhile). Aborted when more than ``max_runs`` would run:
        a handler that waits again at once, without end.
        """
        runs = 0
        while (wakeup := self._claim_one()) is not None:
            if runs >= max_runs:
                self.store.release_wakeups([wakeup.lease_token])
                raise Aborted(
                    f"{runs} wake-ups ran and {wakeup.name} is due still: does a handler "
                    "wait again at once, without end?"
                )
            self._resumption.run(wakeup)
            runs += 1
        return runs

    def _claim_one(self) -> Wakeup | None:
        claimed = self.store.claim_wakeups(
            self.owner,
            lease_us=micros(self.settings.lease),
            limit=1,
            handlers=self.runtime.registry.handler_names(),
            pinned_to=self.runtime.instance_id,
        )
        return claimed[0] if claimed else None

    def close(self) -> None:
        """Close the channels to resume hosts and child endpoints."""
        self._channels.close()
