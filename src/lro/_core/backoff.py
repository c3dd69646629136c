"""Jittered exponential backoff for polling another service."""

from __future__ import annotations

import random
from collections.abc import Iterator


def backoff_delays(
    initial: float, maximum: float, multiplier: float = 2.0, jitter: float = 0.2
) -> Iterator[float]:
    """Endless delays from ``initial`` growing by ``multiplier`` up to ``maximum``.

    Each delay is spread by up to ``jitter`` (a fraction) either way, so that many
    pollers started together do not stay in step.
    """
    delay = min(initial, maximum)
    while True:
        spread = delay * jitter
        yield max(0.0, delay + random.uniform(-spread, spread))  # noqa: S311
        delay = min(delay * multiplier, maximum)


def _jittered(delay: float, jitter: float) -> float:
    spread = delay * jitter
    return max(0.0, delay + random.uniform(-spread, spread))  # noqa: S311


def poll_delay(
    elapsed: float, first: float, longest: float, remaining: float, jitter: float = 0.2
) -> float:
    """The pause before the next poll of a wait that has lasted ``elapsed`` seconds.

    The pause grows with the wait (about half of it, so polls come at a doubling pace)
    from ``first`` to ``longest``, with jitter, and never passes the deadline that is
    ``remaining`` seconds away.
    """
    delay = _jittered(min(max(first, elapsed / 2), longest), jitter)
    return max(0.0, min(delay, remaining))


def retry_delay(attempt: int, first: float, longest: float, jitter: float = 0.2) -> float:
    """The pause before retrying after failed attempt number ``attempt`` (from 1)."""
    exponent = max(0, min(attempt - 1, 62))
    return _jittered(min(first * 2.0**exponent, longest), jitter)
