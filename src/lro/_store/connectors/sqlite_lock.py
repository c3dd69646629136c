"""Writers of one SQLite file in one process take turns, first come, first served.

SQLite lets one connection write at a time, and a connection that finds the file locked
polls (its busy handler sleeps 1 to 100 ms between tries), so the writer that has just
committed takes the lock again while the others sleep, and a waiter may poll past its
busy timeout. Every store and connection of this process on one file shares one
``WriteLock``, taken before a write begins and released after its commit or rollback:
they queue on it, and SQLite's busy handler is left to wait only for other processes.
"""

from __future__ import annotations

import collections
import os
import threading
import weakref
from pathlib import Path


class _Turn(threading.Event):
    """A waiter's place in the queue: set when the lock is handed to ``thread``."""

    def __init__(self, thread: int) -> None:
        super().__init__()
        self.thread = thread


class WriteLock:
    """A reentrant lock that ``release`` hands to the longest waiter.

    Reentrant so that a thread that holds it may begin another write without waiting
    on itself (SQLite's busy timeout then says what it always did).
    """

    __slots__ = ("__weakref__", "_depth", "_guard", "_owner", "_waiting")

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._waiting: collections.deque[_Turn] = collections.deque()

    @property
    def waiting(self) -> int:
        """How many threads wait for the lock now."""
        return len(self._waiting)

    def acquire(self, timeout: float) -> bool:
        """Take the lock, waiting at most ``timeout`` seconds; whether it was taken."""
        me = threading.get_ident()
        with self._guard:
            if self._owner is None:
                self._owner, self._depth = me, 1
                return True
            if self._owner == me:
                self._depth += 1
                return True
            turn = _Turn(me)
            self._waiting.append(turn)
        if turn.wait(max(timeout, 0.0)):
            return True
        with self._guard:
            if turn.is_set():  # handed over as the time ran out: it is ours
                return True
            self._waiting.remove(turn)
            return False

    def release(self) -> None:
        """Give the lock up, to the longest waiter if any (it stays taken)."""
        with self._guard:
            self._depth -= 1
            if self._depth:
                return
            if self._waiting:
                turn = self._waiting.popleft()
                self._owner, self._depth = turn.thread, 1
                turn.set()
            else:
                self._owner = None


_locks: weakref.WeakValueDictionary[str, WriteLock] = weakref.WeakValueDictionary()
_locks_guard = threading.Lock()


def _forget_locks() -> None:
    """In a forked child: new locks (a parent's thread may have held one at the fork,
    and would never release it here)."""
    global _locks, _locks_guard
    _locks, _locks_guard = weakref.WeakValueDictionary(), threading.Lock()


os.register_at_fork(after_in_child=_forget_locks)


def write_lock_for(path: str | Path) -> WriteLock:
    """The write lock of the file at ``path`` (its real path: links and relative
    paths to one file share it), made on first use; kept while anyone holds it."""
    key = os.path.realpath(path)
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = WriteLock()
        return lock


def is_write(sql: str) -> bool:
    """Whether a statement may write: all but those that begin with SELECT (after
    leading ``--`` comments). A write taken for a read costs only a wait."""
    lines = (line.strip() for line in sql.splitlines())
    code = " ".join(line for line in lines if line and not line.startswith("--"))
    first = code.split(maxsplit=1)[0].upper() if code else ""
    return first != "SELECT"
