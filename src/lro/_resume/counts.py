"""Running totals of a worker: what ``lro worker`` prints in its summary line."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from typing import Literal

from lro._store.base import Wakeup

# How a resumption ended: the handler ran (and finished or waits again), it raised,
# its wait goes on (postponed), or there was nothing to run (done, deleted).
Outcome = Literal["resumed", "failed", "postponed", "skipped"]


@dataclasses.dataclass(frozen=True, slots=True)
class WorkerTotals:
    """The totals since the worker started, and the lag since the last look."""

    claimed: int = 0
    resumed: int = 0
    failed: int = 0
    postponed: int = 0
    running: int = 0
    lag_mean: float | None = None
    lag_max: float | None = None

    def line(self) -> str:
        """One line for a person: ``claimed 12, finished 10, failed 1, ...``."""
        lag = (
            f"lag mean {self.lag_mean:.3f}s max {self.lag_max:.3f}s"
            if self.lag_mean is not None and self.lag_max is not None
            else "lag -"
        )
        return (
            f"claimed {self.claimed}, finished {self.resumed}, failed {self.failed}, "
            f"postponed {self.postponed}, running {self.running}, {lag}"
        )


class WorkerCounts:
    """Thread-safe counters that the worker updates as it claims and runs wake-ups."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, int] = dict.fromkeys(
            ("claimed", "resumed", "failed", "postponed"), 0
        )
        self._lags: list[float] = []

    def claimed(self, wakeups: Iterable[Wakeup], now_us: int) -> None:
        """Count claimed wake-ups, and how late each was (seconds after its due time)."""
        lags = [max(now_us - wakeup.due_time_us, 0) / 1e6 for wakeup in wakeups]
        with self._lock:
            self._totals["claimed"] += len(lags)
            self._lags.extend(lags)

    def ended(self, outcome: Outcome) -> None:
        """Count a resumption that ended with ``outcome``."""
        if outcome != "skipped":
            with self._lock:
                self._totals[outcome] += 1

    def totals(self, running: int) -> WorkerTotals:
        """The totals now; the lag covers the claims since the previous call."""
        with self._lock:
            lags, self._lags = self._lags, []
            counts = dict(self._totals)
        return WorkerTotals(
            **counts,
            running=running,
            lag_mean=sum(lags) / len(lags) if lags else None,
            lag_max=max(lags) if lags else None,
        )
