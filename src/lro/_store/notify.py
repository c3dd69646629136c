"""Change notifications: a write wakes whoever waits on that operation.

A store publishes every change it commits. Any other source (a thread that listens to
another process, a poller of the database file) publishes into the same hub, and any
kind of waiter (a thread, an asyncio task) subscribes with a callback.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterable
from types import TracebackType

ChangeCallback = Callable[[str], None]
EVERYTHING = "*"
_log = logging.getLogger("lro.store")


def _call(callback: ChangeCallback, name: str) -> None:
    """Run one subscriber; its failure must not reach the writer or the other subscribers."""
    try:
        callback(name)
    except Exception:
        _log.exception("a change subscriber failed for %r", name)


class Subscription:
    """A registration of a callback for some operation names; cancel to end it."""

    def __init__(self, hub: ChangeHub, key: int, names: frozenset[str]) -> None:
        self._hub = hub
        self._key = key
        self.names = names

    def cancel(self) -> None:
        """Stop receiving notifications."""
        self._hub._unsubscribe(self._key, self.names)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


class ChangeHub:
    """Thread-safe fan-out of "operation X changed" to subscribed callbacks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys = itertools.count()
        self._by_name: dict[str, dict[int, ChangeCallback]] = {}

    def subscribe(self, names: Iterable[str], callback: ChangeCallback) -> Subscription:
        """Call ``callback(name)`` whenever one of ``names`` may have changed.

        The callback runs on the publishing thread and must be quick and non-blocking
        (set an event, or hand off with ``loop.call_soon_threadsafe``). Subscribing to
        ``"*"`` gets every change.
        """
        key = next(self._keys)
        name_set = frozenset(names)
        with self._lock:
            for name in name_set:
                self._by_name.setdefault(name, {})[key] = callback
        return Subscription(self, key, name_set)

    def _unsubscribe(self, key: int, names: frozenset[str]) -> None:
        with self._lock:
            for name in names:
                callbacks = self._by_name.get(name)
                if callbacks is not None:
                    callbacks.pop(key, None)
                    if not callbacks:
                        del self._by_name[name]

    def publish(self, name: str) -> None:
        """Tell the subscribers of ``name`` (and of everything) that it changed."""
        with self._lock:
            callbacks = list(self._by_name.get(name, {}).values())
            if name != EVERYTHING:
                callbacks += self._by_name.get(EVERYTHING, {}).values()
        for callback in callbacks:
            _call(callback, name)

    def watched_names(self) -> frozenset[str]:
        """The names someone is subscribed to now (``"*"`` among them if so)."""
        with self._lock:
            return frozenset(self._by_name)

    def publish_all(self) -> None:
        """Tell every subscriber to look again (changes may have been missed)."""
        with self._lock:
            pairs = [
                (name, callback)
                for name, callbacks in self._by_name.items()
                for callback in callbacks.values()
            ]
        for name, callback in pairs:
            _call(callback, name)

    def waiter(self, names: Iterable[str]) -> Waiter:
        """A blocking waiter for changes to ``names``; use it as a context manager."""
        return Waiter(self, names)


class Waiter:
    """Blocks a thread until one of some operations changes (or a timeout)."""

    def __init__(self, hub: ChangeHub, names: Iterable[str]) -> None:
        self._event = threading.Event()
        self._subscription = hub.subscribe(names, lambda _name: self._event.set())

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True if a change came. Resets for the next call."""
        changed = self._event.wait(timeout)
        self._event.clear()
        return changed

    def close(self) -> None:
        """Unsubscribe."""
        self._subscription.cancel()

    def __enter__(self) -> Waiter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
