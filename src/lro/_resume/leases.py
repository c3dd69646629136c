"""Keeping the leases of running handlers: a thread that renews them, whatever else is slow.

A worker's claims, a handler's writes and its finish may each wait long on a busy store
(on the Spanner emulator, one read-write transaction runs at a time); the renewals wait
for none of them, so a lease ends only when its holder stops renewing it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection

from lro._core.clock import Clock
from lro._resume.plan import micros
from lro._store.base import WakeupStore

RETRY_PAUSE = 0.5  # after a failed renewal, at most; a third of the lease if shorter


class LeaseRenewer:
    """Renews the leases of the tokens it holds, every third of ``lease`` seconds, on a
    thread of its own; it waits for the first token, and idles when none is held.

    Args:
        store: where the leases are.
        clock: where the pauses between renewals are taken.
        lease: seconds that each renewal extends a lease by.
        on_lost: told, on the renewer's thread, of tokens whose lease no renewal holds
            any more (it ran out, or its run removed the wake-up meanwhile); they are no
            longer renewed.
        name: the thread's name.
        log: where failed renewals are logged.
    """

    def __init__(
        self,
        store: WakeupStore,
        clock: Clock,
        lease: float,
        *,
        on_lost: Callable[[list[str]], None] | None = None,
        name: str = "lro-lease",
        log: logging.Logger | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._lease = lease
        self._on_lost = on_lost
        self._log = log or logging.getLogger("lro.worker")
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self._held = threading.Event()  # set when a token comes, or at stop
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def hold(self, token: str) -> None:
        """Renew the lease of ``token`` from now on (its claim just began it)."""
        with self._lock:
            self._tokens.add(token)
        self._held.set()

    def drop(self, token: str) -> None:
        """Renew the lease of ``token`` no more (its run ended)."""
        with self._lock:
            self._tokens.discard(token)

    def stop(self, timeout: float | None = None) -> None:
        """Stop renewing; once this returns, no renewal will begin. A renewal under way
        is waited for, ``timeout`` seconds at most (None: until it ends); one that ends
        later cannot take back a lease released meanwhile, as renewals extend only the
        leases their tokens still hold."""
        self._stopping.set()
        self._held.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        clock = self._clock
        next_renewal: float | None = None
        while not self._stopping.is_set():
            with self._lock:
                tokens = list(self._tokens)
            if not tokens:  # nothing to renew: wait for a token, without a clock
                next_renewal = None
                self._held.wait()
                self._held.clear()
                continue
            if next_renewal is None:  # the first token's lease has just begun
                next_renewal = clock.monotonic() + self._lease / 3
            began = clock.monotonic()
            if next_renewal > began:
                clock.wait(self._stopping, next_renewal - began)
                continue
            # From the start: a renewal extends the lease from when it began, and the
            # next must begin a third of a lease later, however long this one took.
            next_renewal = began + self._renew(tokens)

    def _renew(self, tokens: Collection[str]) -> float:
        """Renew the leases of ``tokens``; the pause until the next renewal."""
        try:
            held = self._store.renew_wakeups(tokens, micros(self._lease))
        except Exception:
            self._log.warning(
                "cannot renew leases (%d held); trying again", len(tokens), exc_info=True
            )
            return min(RETRY_PAUSE, self._lease / 3)
        with self._lock:
            lost = [token for token in tokens if token not in held and token in self._tokens]
            self._tokens.difference_update(lost)
        if lost and self._on_lost is not None:
            try:
                self._on_lost(lost)
            except Exception:
                self._log.exception("a lost lease could not be reported")
        return self._lease / 3
