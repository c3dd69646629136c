"""Hold a SQLite database (WAL mode) as another process that recovers its log would.

While a process recovers the write-ahead log, it holds the log's write and recovery
locks, and the index header in shared memory is in flux. Any other connection that
starts a read then fails with SQLITE_BUSY ("database is locked") once its busy timeout
runs out. ``LockedDatabase`` puts a database in that state from a child process (POSIX
locks do not conflict within one process) and takes it out again, leaving the file as
it was.

The offsets are SQLite's documented WAL-index layout (https://sqlite.org/walformat.html):
two 48-byte copies of the header, then the checkpoint information, whose lock bytes
start at offset 120 (write lock 120, checkpoint 121, recovery 122).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_WRITE_LOCK = 120
_RECOVERY_LOCK = 122
_CHANGE_COUNTER = slice(4, 8)  # iChange of the first header copy
_SHARED_MEMORY_SIZE = 32768

_HOLDER = f"""
import fcntl, mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, {_WRITE_LOCK})
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, {_RECOVERY_LOCK})
shared = mmap.mmap(fd, {_SHARED_MEMORY_SIZE})
counter = slice({_CHANGE_COUNTER.start}, {_CHANGE_COUNTER.stop})
saved = shared[counter]
shared[counter] = bytes(byte ^ 0xFF for byte in saved)
print("locked", flush=True)
sys.stdin.readline()
shared[counter] = saved
shared.flush()
"""


class LockedDatabase:
    """``lock()`` makes every read of the database fail as locked; ``unlock()`` ends it."""

    def __init__(self, database: Path) -> None:
        self.shared_memory = Path(f"{database}-shm")
        self._holder: subprocess.Popen[str] | None = None

    def lock(self) -> None:
        """Take the locks in a child process; returns once they are held."""
        self._holder = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(self.shared_memory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._holder.stdout is not None
        line = self._holder.stdout.readline()
        if line != "locked\n":
            self._holder.wait(10)
            raise RuntimeError(f"could not lock {self.shared_memory}")

    def unlock(self) -> None:
        """Restore the header and release the locks (the child process exits)."""
        holder, self._holder = self._holder, None
        if holder is None:
            return
        assert holder.stdin is not None
        assert holder.stdout is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.stdout.close()
        if holder.wait(10) != 0:
            raise RuntimeError(f"the lock holder of {self.shared_memory} failed")
