"""A store's ``claim_wakeups`` held up for as long as a test wants."""

from __future__ import annotations

import threading
from typing import Any

from lro._store.base import Wakeup


class HeldClaims:
    """A store's ``claim_wakeups`` that, once ``hold`` is set, waits for ``let_go``
    before it claims: a claim as slow as the test wants (``held`` says one waits)."""

    def __init__(self, store: Any) -> None:
        self._claim = store.claim_wakeups
        self.hold, self.held, self.let_go = threading.Event(), threading.Event(), threading.Event()

    def __call__(self, *args: Any, **kwargs: Any) -> list[Wakeup]:
        if self.hold.is_set():
            self.held.set()
            self.let_go.wait(120)
        claimed: list[Wakeup] = self._claim(*args, **kwargs)
        return claimed
