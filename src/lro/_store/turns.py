"""Writers of one operation in one process take turns, first come, first served.

A compare-and-set that loses costs a read and another try, and a thread that has just
written holds the newest version, so it wins again and again while the others starve.
Taking turns in the process leaves the compare-and-set to settle only the writes of
other processes.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Iterator
from typing import Any


class Turns:
    """A first-come, first-served lock: ``release`` hands it to the longest waiter.

    ``latest`` is for its holders: the newest record that one of them wrote, so that
    the next one starts from it rather than from a version it knows is old.
    """

    def __init__(self) -> None:
        self.users = 0  # holders and waiters; guarded by the registry's lock
        self.latest: Any = None
        self._lock = threading.Lock()
        self._busy = False
        self._waiting: collections.deque[threading.Event] = collections.deque()

    def acquire(self) -> None:
        with self._lock:
            if not self._busy:
                self._busy = True
                return
            turn = threading.Event()
            self._waiting.append(turn)
        turn.wait()

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()  # stays busy: the turn passes on
            else:
                self._busy = False


_registry: dict[tuple[int, str], Turns] = {}
_registry_lock = threading.Lock()


@contextlib.contextmanager
def write_turn(store: object, name: str) -> Iterator[Turns]:
    """Wait for the turn of this thread to write operation ``name`` of ``store``."""
    key = (id(store), name)
    with _registry_lock:
        turns = _registry.setdefault(key, Turns())
        turns.users += 1
    turns.acquire()
    try:
        yield turns
    finally:
        turns.release()
        with _registry_lock:
            turns.users -= 1
            if turns.users == 0:
                del _registry[key]
