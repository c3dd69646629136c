"""The wait generators of ``lro._core.waiting``, run by hand: no store, no threads."""

from __future__ import annotations

from typing import Any

import pytest
from google.longrunning import operations_proto_pb2 as operations_pb2

import lro
from lro._core import transitions, waiting
from lro._core.constants import OUTAGE_RECHECK

STORE = object()  # the generators never look inside their source


class FakeTime:
    """A monotonic clock that moves only when a pause says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def running(name: str) -> operations_pb2.Operation:
    return transitions.new_operation(name)


def done(name: str) -> operations_pb2.Operation:
    return transitions.finish(running(name))


def run(steps: waiting.Steps[Any], answer: Any, clock: FakeTime) -> Any:
    """Drive ``steps``: ``answer(request)`` gives each result, or an exception to throw;
    a Pause moves the clock."""
    try:
        request = next(steps)
        while True:
            if isinstance(request, waiting.Pause):
                clock.now += request.seconds
            result = answer(request)
            throw = isinstance(result, Exception)
            request = steps.throw(result) if throw else steps.send(result)
    except StopIteration as stop:
        return stop.value


def test_children_done_watches_first_then_returns_when_all_are_done() -> None:
    clock, reads = FakeTime(), iter([{"a": running("a"), "b": done("b")}, {"a": done("a")}])
    seen: list[object] = []

    def answer(request: waiting.Request) -> Any:
        seen.append(type(request).__name__)
        return next(reads) if isinstance(request, waiting.Read) else None

    found = run(
        waiting.children_done(STORE, ["a", "b"], timeout=10, recheck_every=1, now=clock),
        answer,
        clock,
    )
    assert set(found) == {"a", "b"}
    assert seen == ["Watch", "Read", "Pause", "Read"]


def test_children_done_rides_out_an_outage_that_ends_in_time() -> None:
    clock = FakeTime()
    reads: list[Any] = [lro.Unavailable("down")] * 3 + [{"a": done("a")}]

    def answer(request: waiting.Request) -> Any:
        if isinstance(request, waiting.Pause):
            assert request.seconds <= OUTAGE_RECHECK
        return reads.pop(0) if isinstance(request, waiting.Read) else None

    steps = waiting.children_done(STORE, ["a"], timeout=10, recheck_every=5, now=clock)
    assert run(steps, answer, clock)["a"].done


def test_children_done_raises_the_outage_when_the_deadline_comes_first() -> None:
    clock = FakeTime()

    def answer(request: waiting.Request) -> Any:
        return lro.Unavailable("still down") if isinstance(request, waiting.Read) else None

    steps = waiting.children_done(STORE, ["a"], timeout=2, recheck_every=5, now=clock)
    with pytest.raises(lro.Unavailable, match="still down"):
        run(steps, answer, clock)
    assert clock.now >= 102


def test_children_done_names_the_children_still_running_at_the_deadline() -> None:
    clock = FakeTime()

    def answer(request: waiting.Request) -> Any:
        return {"a": running("a")} if isinstance(request, waiting.Read) else None

    steps = waiting.children_done(STORE, ["a"], timeout=3, recheck_every=1, now=clock)
    with pytest.raises(lro.WaitDeadlineExceeded, match="still running: a"):
        run(steps, answer, clock)


def test_children_done_ends_with_cancelled_when_the_owner_is_cancelled() -> None:
    clock = FakeTime()
    owner = transitions.cancel(running("me"))

    def answer(request: waiting.Request) -> Any:
        return {"a": running("a"), "me": owner} if isinstance(request, waiting.Read) else None

    steps = waiting.children_done(STORE, ["a"], timeout=3, recheck_every=1, now=clock, owner="me")
    with pytest.raises(lro.Cancelled):
        run(steps, answer, clock)


def test_latest_fails_at_once_if_the_store_is_down_at_the_start() -> None:
    clock = FakeTime()

    def answer(request: waiting.Request) -> Any:
        return lro.Unavailable("down") if isinstance(request, waiting.Read) else None

    with pytest.raises(lro.Unavailable):
        run(waiting.latest(STORE, "a", timeout=10, now=clock), answer, clock)
    assert clock.now == 100.0


def test_latest_keeps_the_last_state_through_an_outage_then_gives_it_at_the_deadline() -> None:
    clock = FakeTime()
    reads: list[Any] = [{"a": running("a")}, lro.Unavailable("down"), {"a": running("a")}]

    def answer(request: waiting.Request) -> Any:
        if isinstance(request, waiting.Read):
            return reads.pop(0) if reads else {"a": running("a")}
        return None

    steps = waiting.latest(STORE, "a", timeout=2, now=clock, recheck_every=0.5)
    latest = run(steps, answer, clock)
    assert not latest.done
    assert clock.now >= 102


def test_pause_unless_cancelled_checks_at_every_change() -> None:
    clock = FakeTime()
    reads = iter([{"me": running("me")}, {"me": transitions.cancel(running("me"))}])

    def answer(request: waiting.Request) -> Any:
        return next(reads) if isinstance(request, waiting.Read) else True

    steps = waiting.cancellable_sleep(STORE, "me", 60, recheck_every=5, now=clock)
    with pytest.raises(lro.Cancelled):
        run(steps, answer, clock)
    assert clock.now < 160


def test_children_at_service_polls_with_growing_pauses() -> None:
    clock, pauses = FakeTime(), []
    polls = iter([{"a": running("a")}] * 5 + [{"a": done("a")}])

    def answer(request: waiting.Request) -> Any:
        if isinstance(request, waiting.Pause):
            pauses.append(request.seconds)
        return next(polls) if isinstance(request, waiting.Poll) else None

    steps = waiting.children_at_service("service", ["a"], timeout=60, poll_frequency=1, now=clock)
    assert run(steps, answer, clock)["a"].done
    assert pauses[0] < 0.1 < pauses[-1] <= 1.2


def _decide(children: tuple[str, ...], answer: Any, *, now_us: int, service: Any = None) -> Any:
    steps = waiting.resume_decision(
        children,
        source=STORE,
        service=service,
        deadline_us=10_000_000,
        waiting_since_us=0,
        poll_frequency_us=3_000_000,
        now_us=lambda: now_us,
    )
    return run(steps, answer, FakeTime())


def test_resume_decision() -> None:
    assert _decide((), None, now_us=0) == waiting.RESUME
    assert _decide(("a",), lambda r: {"a": done("a")}, now_us=0) == waiting.RESUME
    assert _decide(("a",), lambda r: {}, now_us=11_000_000) == waiting.TimedOut(("a",))
    postponed = _decide(("a",), lambda r: {"a": running("a")}, now_us=4_000_000)
    assert isinstance(postponed, waiting.Postpone)
    assert 0.05 <= postponed.delay <= 3.6


def test_resume_decision_counts_an_unreachable_service_as_running_and_fails_on_others() -> None:
    unavailable = _decide(
        ("a",), lambda r: lro.Unavailable("x"), now_us=1_000_000, service="remote"
    )
    assert isinstance(unavailable, waiting.Postpone)
    assert "unreachable" in unavailable.note
    with pytest.raises(lro.NotFound):
        _decide(("a",), lambda r: lro.NotFound("a"), now_us=1_000_000, service="remote")
