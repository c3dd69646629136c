"""The embedded resumer: worker threads that claim due wake-ups under a lease."""

from __future__ import annotations

import dataclasses
import heapq
import logging
import os
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from lro._core.attempts import MAX_ATTEMPTS, MAX_RETRY_DELAY, RETRY_DELAY, AttemptPolicy
from lro._core.durations import Duration, seconds
from lro._core.errors import InvalidArgument
from lro._resume.channels import Channels
from lro._resume.counts import WorkerCounts, WorkerTotals
from lro._resume.leases import LeaseRenewer
from lro._resume.plan import micros, wakeup_store
from lro._resume.retention import PeriodicPurge
from lro._resume.run import CALL_TIMEOUT, Resumption, RunSettings
from lro._runtime import Runtime
from lro._store.base import Wakeup
from lro._store.notify import EVERYTHING

logger = logging.getLogger("lro.worker")
ERROR_PAUSE = 0.5
STOP_CHECK = 0.05
# How long ``stop`` waits for a claim (or a lease renewal) in flight: a claim that ends
# later gives back what it took, and its leases run out if even that fails.
CLAIM_STOP_WAIT = 10.0


@dataclasses.dataclass(frozen=True, slots=True)
class WorkerSettings:
    """How a worker claims and runs resumptions.

    Args:
        threads: handlers run at once.
        lease: seconds a claim lasts; renewed every third of it while the handler runs,
            on a thread of its own (slow claims do not delay it). A worker that dies
            loses its claims when their leases end.
        poll_interval: the longest pause between two claims (one query each). Changes
            made in this process, and waits scheduled here, wake the worker sooner.
        max_attempts: handler runs before the operation ends with the handler's error.
        retry_delay: pause after the first failed run; doubles up to max_retry_delay.
        max_retry_delay: the longest pause between runs.
        call_timeout: seconds for a resume call over gRPC and for each GetOperation of
            a child behind an endpoint.
        shutdown_grace: seconds ``stop`` waits for running handlers before releasing
            their leases.
        retention: None keeps every operation; seconds (or a timedelta) makes the
            worker delete the done operations not updated for that long, of every
            collection, at start and then every ``purge_interval`` seconds (see
            ``Client.purge``).
        purge_interval: seconds between two purges.
    """

    threads: int = 4
    lease: float = 30.0
    poll_interval: float = 0.5
    max_attempts: int = MAX_ATTEMPTS
    retry_delay: float = RETRY_DELAY
    max_retry_delay: float = MAX_RETRY_DELAY
    call_timeout: float = CALL_TIMEOUT
    shutdown_grace: float = 30.0
    retention: Duration | None = None
    purge_interval: float = 3600.0

    def __post_init__(self) -> None:
        if self.threads < 1 or self.max_attempts < 1:
            raise InvalidArgument("threads and max_attempts must be at least 1")
        if min(self.lease, self.poll_interval) <= 0:
            raise InvalidArgument("lease and poll_interval must be positive")
        if self.retention is not None:
            seconds(self.retention, "retention")
        if not self.purge_interval > 0:
            raise InvalidArgument("purge_interval must be positive")

    def run_settings(self) -> RunSettings:
        """The part that each resumption uses."""
        policy = AttemptPolicy(self.max_attempts, self.retry_delay, self.max_retry_delay)
        return RunSettings(policy, self.call_timeout)


class Worker:
    """Claims ready wake-ups of one runtime's store and resumes them in threads."""

    def __init__(self, runtime: Runtime, settings: WorkerSettings | None = None) -> None:
        self.settings = settings or WorkerSettings()
        self.runtime = runtime
        self.clock = runtime.clock
        self.store = wakeup_store(runtime.store)
        self.owner = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        self._channels = Channels()
        self._resumption = Resumption(
            runtime, self.store, self._channels, self.settings.run_settings()
        )
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._hints: list[int] = []
        self._running: dict[str, Wakeup] = {}
        self._counts = WorkerCounts()
        self._reported_handlers: set[str] = set()
        self._executor = ThreadPoolExecutor(self.settings.threads, thread_name_prefix="lro-worker")
        self._purge = (
            PeriodicPurge(runtime, self.settings.retention, self.settings.purge_interval)
            if self.settings.retention is not None
            else None
        )
        self._subscription = self.store.changes.subscribe([EVERYTHING], self._on_change)
        self._leases = LeaseRenewer(
            self.store,
            self.clock,
            self.settings.lease,
            on_lost=self._on_lost,
            name="lro-worker-lease",
        )
        self._thread = threading.Thread(target=self._loop, name="lro-claimer", daemon=True)
        self._wake.set()
        self._thread.start()

    def hint(self, due_time_us: int) -> None:
        """Tell the worker that a wake-up is due at ``due_time_us`` (store clock)."""
        with self._lock:
            heapq.heappush(self._hints, due_time_us)
        self._wake.set()

    def _on_change(self, name: str) -> None:
        # A change may complete a child someone waits for; changes of the operations
        # this worker is running are its own writes.
        with self._lock:
            if any(w.name == name for w in self._running.values()):
                return
        self._wake.set()

    def _loop(self) -> None:
        clock = self.clock
        next_report = clock.monotonic() + self.settings.lease / 3
        while not self._stopping.is_set():
            clock.wait(self._wake, self._pause())
            self._wake.clear()
            if self._stopping.is_set():
                break
            try:
                self._claim()
                if clock.monotonic() >= next_report:
                    next_report = clock.monotonic() + self.settings.lease / 3
                    self._report_unserved_handlers()
            except Exception:
                if self._stopping.is_set():  # the store may be closed by now
                    logger.debug("worker %s: claim failed at stop", self.owner, exc_info=True)
                    break
                logger.exception("worker %s: claim failed", self.owner)
                clock.wait(self._stopping, ERROR_PAUSE)

    def _pause(self) -> float:
        clock = self.clock
        pause = self.settings.poll_interval
        with self._lock:
            if self._hints:
                pause = min(pause, max(0.0, (self._hints[0] - clock.now_us()) / 1e6))
        return pause

    def _claim(self) -> None:
        with self._lock:
            free = self.settings.threads - len(self._running)
        if free <= 0:
            return
        started_us = self.clock.now_us()
        claimed = self.store.claim_wakeups(
            self.owner,
            lease_us=micros(self.settings.lease),
            limit=free,
            handlers=self.runtime.registry.handler_names(),
            pinned_to=self.runtime.instance_id,
        )
        with self._lock:
            while self._hints and self._hints[0] <= started_us:
                heapq.heappop(self._hints)
            stopping = self._stopping.is_set()  # under the lock that stop reads under
            if not stopping:
                for wakeup in claimed:
                    self._running[wakeup.lease_token] = wakeup
        if stopping:  # claimed after stop began: run none of it
            self._release([wakeup.lease_token for wakeup in claimed])
            return
        for wakeup in claimed:
            self._leases.hold(wakeup.lease_token)
        self._counts.claimed(claimed, self.clock.now_us())
        for wakeup in claimed:
            self._executor.submit(self._run, wakeup)

    def _run(self, wakeup: Wakeup) -> None:
        try:
            self._counts.ended(self._resumption.run(wakeup))
        except Exception:
            logger.exception("worker %s: resuming %s failed", self.owner, wakeup.name)
        finally:
            self._leases.drop(wakeup.lease_token)
            with self._lock:
                self._running.pop(wakeup.lease_token, None)
            self._wake.set()

    def _on_lost(self, tokens: list[str]) -> None:
        """Log the leases that ran out while their handlers ran (not those whose run
        removed the wake-up just now)."""
        with self._lock:
            ended = [self._running[token] for token in tokens if token in self._running]
        for wakeup in ended:
            if self.store.get_wakeup(wakeup.name) is not None:
                logger.info(
                    "worker %s: lost the lease on %s (%s %r) while it ran; "
                    "another worker may resume it",
                    self.owner,
                    wakeup.name,
                    wakeup.target_kind,
                    wakeup.target,
                )

    def _report_unserved_handlers(self) -> None:
        """Warn, once per name, of handlers that operations have waited for longer than
        a lease and that this process does not register: maybe no worker does."""
        unserved_handlers = getattr(self.store, "unserved_handlers", None)
        if unserved_handlers is None:  # a store of the user's that cannot tell
            return
        handlers = self.runtime.registry.handler_names()
        names: set[str] = unserved_handlers(handlers, micros(self.settings.lease))
        for name in sorted(names - self._reported_handlers):
            self._reported_handlers.add(name)
            logger.warning(
                "worker %s: operations wait for the handler %r, which this process does "
                "not register; they run only in a worker whose app registers it with "
                "@client.resumable(%r)",
                self.owner,
                name,
                name,
            )

    def stop(self, grace: float | None = None) -> None:
        """Stop claiming; let running handlers finish for up to ``grace`` seconds
        (default ``shutdown_grace``), then release the leases still held.

        A claim in flight is waited for ``CLAIM_STOP_WAIT`` seconds at most: it runs
        nothing it takes, and gives that back. The release is best effort (a lease that
        is not released runs out).
        """
        self._subscription.cancel()
        if self._purge is not None:
            self._purge.stop()
        clock = self.clock
        deadline = clock.monotonic() + (self.settings.shutdown_grace if grace is None else grace)
        with self._lock:  # a claim that ends now sees it, and runs none of its take
            self._stopping.set()
        self._wake.set()
        self._thread.join(CLAIM_STOP_WAIT)
        while clock.monotonic() < deadline:  # the renewer keeps the leases meanwhile
            with self._lock:
                if not self._running:
                    break
            clock.wait(self._wake, min(STOP_CHECK, max(0.0, deadline - clock.monotonic())))
            self._wake.clear()
        self._leases.stop(CLAIM_STOP_WAIT)  # a renewal under way cannot undo the release
        with self._lock:
            tokens = list(self._running)
        self._release(tokens)
        self._executor.shutdown(wait=False)
        self._channels.close()

    def _release(self, tokens: list[str]) -> None:
        """Give back the leases of ``tokens``; if that fails, they run out in time."""
        if not tokens:
            return
        try:
            self.store.release_wakeups(tokens)
        except Exception:
            logger.warning(
                "worker %s: cannot release %d leases; they run out in %s s",
                self.owner,
                len(tokens),
                self.settings.lease,
                exc_info=True,
            )

    @property
    def running(self) -> int:
        """How many resumptions run now."""
        with self._lock:
            return len(self._running)

    def totals(self) -> WorkerTotals:
        """What this worker claimed and ran so far (the lag since the last call)."""
        return self._counts.totals(self.running)

    def __repr__(self) -> str:
        return f"Worker({self.owner!r}, {self.settings})"
