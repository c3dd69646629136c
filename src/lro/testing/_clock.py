"""A clock that moves only when told: the fake time of ``lro.testing``."""

from __future__ import annotations

import asyncio
import datetime
import math
import threading

from lro._core import durations
from lro._core.clock import SYSTEM_CLOCK


class FakeClock:
    """Time for tests: it starts at the real now (or at ``start_us``) and moves only by
    ``advance``, or by a pause taken on it.

    A pause does not pass real time: ``sleep(s)`` moves the clock by ``s`` at once, and
    ``wait(event, timeout)`` returns at once if the event is set, else moves the clock
    by ``timeout`` (a wait without a limit waits for the event for real). So an
    in-process ``op.wait(sleep=60)`` in a handler returns at once, 60 fake seconds
    later. It is safe to use from several threads.
    """

    def __init__(self, start_us: int | None = None) -> None:
        self._lock = threading.Lock()
        self._start_us = SYSTEM_CLOCK.now_us() if start_us is None else start_us
        self._elapsed_us = 0

    def now_us(self) -> int:
        """Fake wall time, microseconds since the epoch."""
        with self._lock:
            return self._start_us + self._elapsed_us

    def now(self) -> datetime.datetime:
        """Fake wall time, as an aware UTC datetime."""
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
        return epoch + datetime.timedelta(microseconds=self.now_us())

    def monotonic(self) -> float:
        """Fake seconds since the clock was made."""
        with self._lock:
            return self._elapsed_us / 1e6

    def advance(self, duration: durations.Duration) -> None:
        """Move the clock forward by ``duration`` (seconds or a timedelta);
        InvalidArgument for a negative or infinite one."""
        amount = durations.seconds(duration)
        with self._lock:
            self._elapsed_us += round(amount * 1_000_000)

    def sleep(self, seconds: float) -> None:
        """Move the clock by ``seconds`` at once."""
        self.advance(max(0.0, seconds))

    def wait(self, event: threading.Event, timeout: float) -> bool:
        """Whether ``event`` is set; if not, the clock moves by ``timeout`` first."""
        if event.is_set():
            return True
        if math.isinf(timeout):
            return event.wait()
        self.sleep(timeout)
        return event.is_set()

    async def wait_async(self, event: asyncio.Event, timeout: float) -> bool:
        """As ``wait``, on the running loop (other tasks get one turn first)."""
        await asyncio.sleep(0)
        if event.is_set():
            return True
        if math.isinf(timeout):
            await event.wait()
            return True
        self.sleep(timeout)
        return event.is_set()

    def __repr__(self) -> str:
        return f"FakeClock({self.now().isoformat()})"
