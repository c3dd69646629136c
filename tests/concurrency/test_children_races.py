"""Children that finish, or go, while their parent waits durably: no interleaving may
lose the parent's wake-up or resume it twice, on any backend.

Each case repeats a race many times (fewer on the Spanner emulator). A parent that is
not resumed within a few seconds of its last child (``Limits.prompt``) counts as lost:
its wait would end only at its timeout, 20 s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

import pytest

import lro
from tests.concurrency.races import (
    TIMEOUT,
    Ledger,
    assert_resumed_once_promptly,
    limits,
    race,
    register_parent,
    timed,
    waiting_parent,
)

SHORT = 1.0  # the timeout of waits that must end at their deadline


def _finish_after(delay: float, child: lro.Operation[None]) -> Callable[[], float]:
    """An action that finishes ``child`` ``delay`` seconds after its start; it returns
    when it finished."""

    def finish() -> None:
        time.sleep(delay)
        child.done()

    return timed(finish)


def _assert_finished(
    client: lro.Client, ledger: Ledger, names: Iterable[str], *, timed_out: bool
) -> None:
    """The parents ``names`` (resumed already) finished, after a wait that timed out
    or not."""
    for name in names:
        assert client.wait_operation(name, timeout=TIMEOUT).done
        assert ledger.notes(name, at_least=2) == [f"timed out: {timed_out}", "finished"], name


@pytest.mark.parametrize("parents", [1, 2])
def test_children_finishing_together_wake_each_waiting_parent_once(
    racing_client: lro.Client, store_url: str, parents: int
) -> None:
    # With two parents waiting for the same children, each finish changes both waits.
    limit = limits(store_url)
    ledger = Ledger()
    register_parent(racing_client, ledger)
    last_finishes: dict[str, float] = {}
    for trial in range(limit.repeats // parents):
        children = [racing_client.new_operation() for _ in range(2 + trial % 4)]
        names = [waiting_parent(racing_client, [c.name for c in children]) for _ in range(parents)]
        finished = max(race([timed(child.done) for child in children]))
        last_finishes.update(dict.fromkeys(names, finished))
    assert_resumed_once_promptly(ledger, "after", last_finishes, limit.prompt)
    _assert_finished(racing_client, ledger, last_finishes, timed_out=False)


def test_children_finishing_while_their_parent_schedules_its_wait(
    racing_client: lro.Client, store_url: str
) -> None:
    limit = limits(store_url)
    ledger = Ledger()
    starts: dict[int, threading.Barrier] = {}
    register_parent(racing_client, ledger, before_wait=lambda op: starts[op.state["trial"]].wait())
    finishes: dict[str, float] = {}
    for trial in range(limit.repeats):
        children = [racing_client.new_operation() for _ in range(1 + trial % 3)]
        starts[trial] = threading.Barrier(len(children) + 1, timeout=10)
        op = racing_client.start(
            "parent", state={"children": [c.name for c in children], "trial": trial}
        )
        delay = (trial % 6) / 1000  # the finishes land at different points of the schedule
        finishing = [_finish_after(delay, child) for child in children]
        finishes[op.name] = max(race(finishing, starts[trial]))
    ledger.wait_for_runs(finishes, "scheduled", time.monotonic() + limit.prompt)
    last_finishes = {
        name: max([finished, *ledger.runs(name, "scheduled")])
        for name, finished in finishes.items()
    }
    assert_resumed_once_promptly(ledger, "after", last_finishes, limit.prompt)
    _assert_finished(racing_client, ledger, last_finishes, timed_out=False)


def test_a_child_deleted_while_its_parent_waits_ends_the_wait_at_its_deadline(
    racing_client: lro.Client, store_url: str
) -> None:
    limit = limits(store_url)
    ledger = Ledger()
    register_parent(racing_client, ledger, timeout=SHORT)
    batch = 6  # parents at once: each wait takes SHORT seconds
    deadlines: dict[str, float] = {}
    for _ in range(max(1, limit.repeats // batch)):
        pairs = [
            (racing_client.new_operation(), racing_client.new_operation()) for _ in range(batch)
        ]
        names = [waiting_parent(racing_client, [kept.name, gone.name]) for kept, gone in pairs]
        actions = [action for kept, gone in pairs for action in (kept.done, gone.delete)]
        race(actions)
        ledger.wait_for_runs(names, "scheduled", time.monotonic() + limit.prompt)
        deadlines.update({name: ledger.runs(name, "scheduled")[0] + SHORT for name in names})
    assert_resumed_once_promptly(ledger, "after", deadlines, limit.prompt)
    early = {
        name: round(deadline - ledger.runs(name, "after")[0], 3)
        for name, deadline in deadlines.items()
        if ledger.runs(name, "after")[0] < deadline - 0.25
    }
    assert not early, f"resumed before the deadline (seconds early): {early}"
    _assert_finished(racing_client, ledger, deadlines, timed_out=True)
