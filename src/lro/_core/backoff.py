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
