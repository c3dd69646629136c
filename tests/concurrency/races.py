"""Helpers of the race tests: threads released together, a ledger of handler runs, and
the outcome every race must have (each parent resumed once, and promptly)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import lro
from tests.durable.conftest import eventually

T = TypeVar("T")
Parent = lro.Operation[dict[str, Any]]
Hook = Callable[[Parent], object]

TIMEOUT = 20.0  # the waits' timeout: a lost wake-up would resume only then
SET_UP = 60.0  # how long a parent may take to begin its wait


@dataclasses.dataclass(frozen=True)
class Limits:
    """How many trials a race gets on a backend, and within how many seconds of its
    last child a parent must resume (else its wake-up counts as lost)."""

    repeats: int
    prompt: float


LIMITS = {
    "sqlite": Limits(repeats=24, prompt=5.0),
    "postgresql": Limits(repeats=24, prompt=5.0),
    # The emulator runs one read-write transaction at a time and aborts the others; the
    # client library retries them after 2 to 3 s (4 to 5 s the second time), so fewer
    # trials and a looser bound, still well under TIMEOUT.
    "spanner": Limits(repeats=6, prompt=12.0),
}


def limits(store_url: str) -> Limits:
    """The limits of the races on the backend of ``store_url``."""
    return LIMITS[store_url.split(":", 1)[0]]


def race(actions: Sequence[Callable[[], T]], barrier: threading.Barrier | None = None) -> list[T]:
    """Run ``actions`` in threads released together by ``barrier`` (default: one of
    their own); their results in order. Re-raises the first action's error."""
    start = barrier or threading.Barrier(len(actions), timeout=30)
    results: list[T | None] = [None] * len(actions)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait()
            results[index] = actions[index]()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if errors:
        raise errors[0]
    assert not any(thread.is_alive() for thread in threads), "an action hung"
    return results  # type: ignore[return-value]


def timed(action: Callable[[], object]) -> Callable[[], float]:
    """``action`` made to return the monotonic time at which it returned."""

    def run() -> float:
        action()
        return time.monotonic()

    return run


class Ledger:
    """What handlers did, by operation: the times of their runs at each resume point,
    and what they noted (thread-safe)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._runs: dict[tuple[str, str], list[float]] = defaultdict(list)
        self._notes: dict[str, list[str]] = defaultdict(list)

    def ran(self, name: str, point: str) -> None:
        """Record a run of ``name``'s handler at ``point``, now."""
        with self._changed:
            self._runs[name, point].append(time.monotonic())
            self._changed.notify_all()

    def note(self, name: str, what: str) -> None:
        """Record something a handler of ``name`` saw or did."""
        with self._changed:
            self._notes[name].append(what)
            self._changed.notify_all()

    def runs(self, name: str, point: str) -> list[float]:
        """The times of the runs of ``name``'s handler at ``point``."""
        with self._changed:
            return list(self._runs[name, point])

    def notes(self, name: str, at_least: int = 0, timeout: float = TIMEOUT) -> list[str]:
        """What the handlers of ``name`` noted, in order, once there are ``at_least``
        notes (or ``timeout`` seconds passed)."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._notes[name]) >= at_least, timeout)
            return list(self._notes[name])

    def wait_for_runs(self, names: Iterable[str], point: str, until: float) -> None:
        """Return once every one of ``names`` ran at ``point``, or at monotonic ``until``."""
        pending = set(names)
        with self._changed:
            while pending:
                pending = {name for name in pending if not self._runs[name, point]}
                left = until - time.monotonic()
                if not pending or left <= 0:
                    return
                self._changed.wait(left)


def assert_resumed_once_promptly(
    ledger: Ledger, point: str, last_finishes: dict[str, float], prompt: float
) -> None:
    """Every parent in ``last_finishes`` (name -> monotonic time its wait could end)
    ran at ``point`` exactly once, within ``prompt`` seconds of that time."""
    ledger.wait_for_runs(last_finishes, point, max(last_finishes.values()) + prompt)
    late = {
        name: [round(run - ready, 3) for run in ledger.runs(name, point)]
        for name, ready in last_finishes.items()
        if not ledger.runs(name, point) or ledger.runs(name, point)[0] - ready > prompt
    }
    assert not late, (
        f"{len(late)} of {len(last_finishes)} parents were not resumed within {prompt} s "
        f"(lost wake-ups; seconds after the last child: {late})"
    )
    repeated = {
        name: len(ledger.runs(name, point))
        for name in last_finishes
        if len(ledger.runs(name, point)) != 1
    }
    assert not repeated, f"resumed more than once at {point!r}: {repeated}"


def register_parent(
    client: lro.Client,
    ledger: Ledger,
    *,
    before_wait: Hook | None = None,
    at_resume: Hook | None = None,
    timeout: float = TIMEOUT,
) -> None:
    """Register the handler "parent" on ``client``: it waits durably for the children
    in its state (``before_wait(op)`` runs just before), then, resumed at "after",
    runs ``at_resume(op)`` and finishes. The ledger records its runs at "start",
    "scheduled" (the wait is written) and "after", and notes what it saw and did."""

    @client.resumable("parent", state_type=dict)
    def parent(op: Parent) -> None:
        if op.resume_point == "after":
            ledger.ran(op.name, "after")
            ledger.note(op.name, f"timed out: {op.wait_timed_out}")
            if at_resume is not None:
                at_resume(op)
            try:
                op.done()
            except lro.Error as exc:
                ledger.note(op.name, f"refused: {type(exc).__name__}")
                raise
            ledger.note(op.name, "finished")
            return
        ledger.ran(op.name, "start")
        if before_wait is not None:
            before_wait(op)
        op.wait(children=op.state["children"], timeout=timeout, resume_at="after")
        ledger.ran(op.name, "scheduled")


def waiting_parent(client: lro.Client, children: list[str], **state: Any) -> str:
    """Start a "parent" on ``children``; its name once its wait is written."""
    op = client.start(  # the workers' clients register it; ``client`` may not
        "parent", state={"children": children, **state}, registered_elsewhere=True
    )
    # Setting up, not the race: on the emulator a first run can queue behind several
    # aborted and retried transactions (2 to 5 s each).
    assert eventually(lambda: client.store.get(op.name).resume_point == "after", SET_UP), (
        f"{op.name} never waited"
    )
    return op.name
