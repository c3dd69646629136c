"""The clock that every component reads: the system's, or a test's (``lro.testing``).

Due times, leases, deadlines, retry delays and the stores' timestamps all come from one
``Clock``, passed down to whoever reads the time; nothing patches ``time``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Where every component reads time and pauses: the system's, or a test's."""

    def now_us(self) -> int:
        """Wall time, microseconds since the epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for deadlines and leases."""
        ...

    def sleep(self, seconds: float) -> None:
        """Pause the calling thread."""
        ...

    def wait(self, event: threading.Event, timeout: float) -> bool:
        """Wait up to ``timeout`` for ``event``; whether it was set."""
        ...

    async def wait_async(self, event: asyncio.Event, timeout: float) -> bool:
        """Wait up to ``timeout`` for ``event`` on the running loop; whether it was set."""
        ...


class SystemClock:
    """The real clock."""

    def now_us(self) -> int:
        """Wall time, microseconds since the epoch."""
        return time.time_ns() // 1000

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """``time.sleep``."""
        time.sleep(seconds)

    def wait(self, event: threading.Event, timeout: float) -> bool:
        """``event.wait(timeout)``."""
        return event.wait(timeout)

    async def wait_async(self, event: asyncio.Event, timeout: float) -> bool:
        """``event.wait()`` with a timeout."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        return event.is_set()


SYSTEM_CLOCK = SystemClock()
