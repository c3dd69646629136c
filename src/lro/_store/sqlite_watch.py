"""Seeing other processes' changes to a SQLite file: a short poll of ``data_version``.

SQLite has no notifications between processes. A watcher thread asks the file's
``PRAGMA data_version`` every few milliseconds (a read of shared memory, no disk
access); when another connection has committed, it reads the versions of the operations
someone waits for and publishes those that changed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable

from lro._store.notify import EVERYTHING, ChangeHub

DEFAULT_CHANGE_POLL_INTERVAL = 0.02
_WATCHED_VERSIONS = (
    "SELECT name, version FROM lro_operations WHERE name IN (SELECT value FROM json_each(?))"
)


class DataVersionWatcher:
    """Polls a SQLite database and publishes the watched operations that changed."""

    def __init__(
        self, connect: Callable[[], sqlite3.Connection], hub: ChangeHub, interval: float
    ) -> None:
        self._connect = connect
        self._hub = hub
        self._interval = interval
        self._versions: dict[str, int | None] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lro-sqlite-watcher", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop polling."""
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        connection = self._connect()
        try:
            last_seen = None
            while not self._stopping.wait(self._interval):
                try:
                    (data_version,) = connection.execute("PRAGMA data_version").fetchone()
                    if data_version != last_seen:
                        self._publish_changes(connection)
                        last_seen = data_version
                except sqlite3.Error:
                    continue  # busy or briefly unreadable: look again at the next tick
        finally:
            connection.close()

    def _publish_changes(self, connection: sqlite3.Connection) -> None:
        """Publish each watched name whose version moved, or that is newly watched."""
        watched = self._hub.watched_names()
        names = sorted(watched - {EVERYTHING})
        rows = connection.execute(_WATCHED_VERSIONS, (json.dumps(names),))
        current: dict[str, int | None] = dict.fromkeys(names)
        current.update((str(name), int(version)) for name, version in rows)
        changed = [
            name
            for name in names
            if name not in self._versions or self._versions[name] != current[name]
        ]
        self._versions = current
        for name in changed:
            self._hub.publish(name)
        if EVERYTHING in watched:
            self._hub.publish(EVERYTHING)
