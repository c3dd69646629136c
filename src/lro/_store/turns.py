"""Writers of one operation in one process take turns, first come, first served.

A compare-and-set that loses costs a read and another try, and a thread that has just
written holds the newest version, so it wins again and again while the others starve.
Taking turns in the process leaves the compare-and-set to settle only the writes of
other processes.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
from typing import Any, Protocol, runtime_checkable


class Turns:
    """The turns of one operation: first come, first served; ``release`` hands the turn
    to the longest waiter. Its fields are guarded by the registry's lock, so that taking
    and leaving a turn costs one lock each.

    ``latest`` is for its holders: the newest record that one of them wrote, so that
    the next one starts from it rather than from a version it knows is old.
    """

    __slots__ = ("_busy", "_waiting", "latest", "users")

    def __init__(self) -> None:
        self.users = 0  # holders and waiters
        self.latest: Any = None
        self._busy = False
        self._waiting: collections.deque[threading.Event] = collections.deque()


_registry: dict[tuple[int, str], Turns] = {}
_registry_lock = threading.Lock()


def _forget_turns() -> None:
    """In a forked child: no turns, and a new lock (a parent's thread may have held a
    turn or the lock at the fork, and would never hand it on here)."""
    global _registry, _registry_lock
    _registry, _registry_lock = {}, threading.Lock()


os.register_at_fork(after_in_child=_forget_turns)


class write_turn:  # noqa: N801 (used as a function: ``with write_turn(store, name)``)
    """Wait for the turn of this thread to write operation ``name`` of ``store``.

    A class rather than a generator: every update goes through it, and this way the
    turn costs half as much.
    """

    __slots__ = ("_key", "_turns")

    def __init__(self, store: object, name: str) -> None:
        self._key = (id(store), name)

    def __enter__(self) -> Turns:
        with _registry_lock:
            turns = _registry.get(self._key)
            if turns is None:
                turns = _registry[self._key] = Turns()
            turns.users += 1
            self._turns = turns
            if not turns._busy:
                turns._busy = True
                return turns
            turn = threading.Event()
            turns._waiting.append(turn)
        turn.wait()  # set by the holder that hands the turn on
        return turns

    def __exit__(self, *exc_info: object) -> None:
        turns = self._turns
        with _registry_lock:
            turns.users -= 1
            if turns._waiting:
                turns._waiting.popleft().set()  # stays busy: the turn passes on
            else:
                turns._busy = False
                if turns.users == 0 and _registry.get(self._key) is turns:  # not since a fork
                    del _registry[self._key]


@runtime_checkable
class QueuedWriters(Protocol):
    """A store whose writers in this process queue on one lock (SQLite's, per file)."""

    def exclusive_writes(self) -> contextlib.AbstractContextManager[object]:
        """Hold that lock: this thread's writes go on, other threads' wait."""
        ...


def retry_alone(store: object, attempt: int) -> contextlib.AbstractContextManager[object]:
    """For a compare-and-set's retry (``attempt`` > 0): hold the store's lock on this
    process's writers, if it has one, so that the re-read and the write it retries are
    not beaten again by a writer of this process (another store on the same file).
    Else, and for the first attempt, nothing."""
    if attempt and isinstance(store, QueuedWriters):
        return store.exclusive_writes()
    return _NOTHING


_NOTHING = contextlib.nullcontext()  # reusable: it holds nothing
