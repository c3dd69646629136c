"""A call run in a thread: its result or exception, and how long it took."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

R = TypeVar("R")


class Background(Generic[R]):
    """Runs ``call()`` in a thread at once; ``join`` waits for it."""

    def __init__(self, call: Callable[[], R]) -> None:
        self.result: R | None = None
        self.error: BaseException | None = None
        self.elapsed = 0.0
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, args=(call,))
        self._thread.start()

    def _run(self, call: Callable[[], R]) -> None:
        try:
            self.result = call()
        except BaseException as exc:  # kept for the test to look at
            self.error = exc
        self.elapsed = time.monotonic() - self._started

    @property
    def returned(self) -> bool:
        """Whether the call has ended (returned or raised)."""
        return not self._thread.is_alive()

    def join(self, timeout: float = 30) -> None:
        """Wait until the call ends; fail if it does not within ``timeout`` seconds."""
        self._thread.join(timeout)
        assert self.returned, "the call did not end"
