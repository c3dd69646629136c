"""The retries of a lost compare-and-set: jittered, growing pauses within a time budget."""

from __future__ import annotations

import pytest

from lro._store import base


class FakeClock:
    """``time.monotonic`` and ``time.sleep`` that only count."""

    def __init__(self) -> None:
        self.now = 100.0
        self.pauses: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr("lro._store.base.time.monotonic", fake.monotonic)
    monkeypatch.setattr("lro._store.base.time.sleep", fake.sleep)
    return fake


def test_retries_back_off_with_jitter_and_stop_at_the_budget(clock: FakeClock) -> None:
    attempts = list(base.compare_and_set_attempts(budget=2.0))
    assert attempts == list(range(len(attempts)))
    assert len(clock.pauses) == len(attempts) - 1
    assert sum(clock.pauses) <= 2.0
    assert sum(clock.pauses) > 2.0 - 2 * base.LONGEST_RETRY_PAUSE  # the budget is used
    assert clock.pauses[0] <= 2 * base.FIRST_RETRY_PAUSE
    assert max(clock.pauses) <= 2 * base.LONGEST_RETRY_PAUSE
    assert max(clock.pauses) > 10 * base.FIRST_RETRY_PAUSE  # the pause grew
    late = clock.pauses[10:]
    assert len(set(late)) == len(late)  # jittered: writers do not stay in step


def test_the_first_attempt_does_not_wait(clock: FakeClock) -> None:
    attempts = base.compare_and_set_attempts()
    assert next(attempts) == 0
    assert clock.pauses == []
