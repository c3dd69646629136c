"""Seeing other processes' changes on Spanner: a short poll of the watched operations.

Spanner has no notifications. While anyone here waits, a watcher thread reads the
versions of the operations waited for, every ``interval`` seconds, and publishes those
that changed. Nothing is read while nobody waits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection

from lro._core.errors import Error
from lro._store.notify import EVERYTHING, ChangeHub

DEFAULT_CHANGE_POLL_INTERVAL = 0.25

ReadVersions = Callable[[Collection[str]], dict[str, int]]


class VersionPoller:
    """Polls the versions of watched operations and publishes the ones that moved."""

    def __init__(self, read_versions: ReadVersions, hub: ChangeHub, interval: float) -> None:
        self._read_versions = read_versions
        self._hub = hub
        self._interval = interval
        self._versions: dict[str, int | None] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lro-spanner-poller", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop polling."""
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            watched = self._hub.watched_names()
            names = sorted(watched - {EVERYTHING})
            if not names:
                self._versions = {}
                continue
            try:
                self.publish_changes(names, everything=EVERYTHING in watched)
            except Error:
                continue  # unavailable for now: look again at the next tick

    def publish_changes(self, names: list[str], *, everything: bool = False) -> None:
        """Publish each of ``names`` whose version moved since the last look, and each
        that is newly watched: it may have changed between its waiter's read and this
        first look (as the SQLite watcher does)."""
        current: dict[str, int | None] = dict.fromkeys(names)
        current.update(self._read_versions(names))
        changed = [n for n in names if n not in self._versions or self._versions[n] != current[n]]
        self._versions = current
        for name in changed:
            self._hub.publish(name)
        if everything and changed:
            self._hub.publish(EVERYTHING)
