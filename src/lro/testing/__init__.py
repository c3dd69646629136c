"""Test helpers: a store and a fake clock that run durable waits in fake time.

``Environment()`` is a context manager with a temporary SQLite store, a fake clock that
starts at the real now, and no background worker: ``env.client`` and ``env.aio_client``
create operations, ``env.run_until_idle()`` runs the due wake-ups in the calling thread
and ``env.advance(seconds)`` moves the clock, then runs what became due. A durable
24-hour sleep passes in milliseconds. The pytest plugin (installed with lro) gives the
fixture ``lro_env``. See docs/testing.md.
"""

from __future__ import annotations

from lro.testing._clock import FakeClock
from lro.testing._environment import Environment

__all__ = ["Environment", "FakeClock"]
