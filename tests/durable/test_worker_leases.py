"""A worker keeps the leases of its running handlers however long its own claims take:
renewals run on a thread of their own, so another worker never runs the same handler
while it still runs here."""

from __future__ import annotations

import itertools
import queue
import threading
from typing import Any

import pytest

import lro
from lro._core import transitions
from lro._core.names import new_name
from lro._resume.leases import LeaseRenewer
from lro._resume.plan import wakeup_store
from lro._store.base import OperationRecord, WaitPlan, Wakeup
from lro._store.urls import open_store
from lro.testing import FakeClock
from tests.durable.conftest import eventually
from tests.durable.held_claims import HeldClaims


def _lease(store_url: str) -> float:
    """Seconds: long enough for a renewal to pass on a loaded machine, short enough to
    wait out. The Spanner emulator runs one read-write transaction at a time, and a
    renewal may wait there seconds behind the other worker's claims."""
    return 10.0 if store_url.startswith("spanner:") else 3.0


class TimedClaims:
    """A store's ``claim_wakeups`` that notes when each claim that ended had begun
    (store clock, microseconds)."""

    def __init__(self, store: Any, client: lro.Client) -> None:
        self._claim = store.claim_wakeups
        self._clock = client.runtime.clock
        self.began_us: list[int] = []

    def __call__(self, *args: Any, **kwargs: Any) -> list[Wakeup]:
        began_us = self._clock.now_us()
        claimed: list[Wakeup] = self._claim(*args, **kwargs)
        self.began_us.append(began_us)
        return claimed


def _register(
    client: lro.Client, runs: list[str], started: threading.Event, release: threading.Event
) -> None:
    """Register ``held`` on ``client``: it notes the client's id, then waits for ``release``."""

    @client.resumable("held")
    def held(op: lro.Operation[object]) -> None:
        runs.append(client.instance_id)
        started.set()
        release.wait(120)
        op.done()


def test_a_slow_claim_does_not_end_the_lease_of_a_running_handler(store_url: str) -> None:
    renewers_before = _renewers("lro-worker-lease")
    lease = _lease(store_url)
    holder = lro.Client(store_url, worker=lro.WorkerSettings(lease=lease, poll_interval=0.05))
    other = lro.Client(store_url, worker=lro.WorkerSettings(lease=lease, poll_interval=0.2))
    runs: list[str] = []
    started, release = threading.Event(), threading.Event()
    for client in (holder, other):
        _register(client, runs, started, release)
    slow = HeldClaims(holder.store)
    holder.store.claim_wakeups = slow  # type: ignore[attr-defined]
    timed = TimedClaims(other.store, other)
    other.store.claim_wakeups = timed  # type: ignore[attr-defined]
    store: Any = holder.store
    try:
        op = holder.start("held")
        assert started.wait(30)
        slow.hold.set()
        assert slow.held.wait(30)  # the holder's next claim waits now, for long
        claimed = store.get_wakeup(op.name)
        held_until: int = claimed.lease_expires_us  # without renewals, free from then
        other.start_worker()

        def claimed_twice_after_the_lease() -> bool:
            return sum(began > held_until for began in timed.began_us) >= 2

        assert eventually(claimed_twice_after_the_lease, timeout=60)
        assert runs == [holder.instance_id]  # no second run while the first goes on
        now = store.get_wakeup(op.name)
        assert now.lease_token == claimed.lease_token
        assert now.lease_expires_us > held_until  # renewed meanwhile
        release.set()
        slow.let_go.set()
        assert holder.wait_operation(op.name, timeout=30).done
    finally:
        release.set()
        slow.let_go.set()
        other.close(grace=5)
        holder.close(grace=5)
    assert _renewers("lro-worker-lease") == renewers_before  # each stopped with its worker


def _renewers(name: str) -> int:
    return sum(thread.name == name for thread in threading.enumerate())


def test_the_renewer_waits_on_its_clock_and_lets_lost_leases_go(store_url: str) -> None:
    start_us = 1_700_000_000 * 10**6
    clock = FakeClock(start_us)
    store = wakeup_store(open_store(store_url, clock=clock))
    lease = 30.0
    for _ in range(2):
        record = OperationRecord(operation=transitions.new_operation(new_name()))
        store.schedule(record, None, WaitPlan(target_kind="handler", target="h"))
    kept, lost = store.claim_wakeups(
        "w", lease_us=int(lease * 10**6), limit=2, handlers=["h"], pinned_to=""
    )
    reports: queue.Queue[list[str]] = queue.Queue()
    renewer = LeaseRenewer(store, clock, lease, on_lost=reports.put, name="lro-test-lease")
    try:
        for wakeup in (kept, lost):
            renewer.hold(wakeup.lease_token)
        store.release_wakeups([lost.lease_token])
        assert reports.get(timeout=30) == [lost.lease_token]

        def renewed_far_ahead() -> bool:  # a pause on a fake clock moves it
            held = store.get_wakeup(kept.name)
            return held is not None and held.lease_expires_us > start_us + 10**6 * 10 * lease

        assert eventually(renewed_far_ahead, timeout=60)
        assert store.get_wakeup(kept.name).lease_token == kept.lease_token  # type: ignore[union-attr]
        released = store.get_wakeup(lost.name)
        assert released is not None
        assert (released.lease_token, released.lease_expires_us) == ("", 0)  # not taken back
    finally:
        renewer.stop()
        store.close()
    assert _renewers("lro-test-lease") == 0
    assert reports.empty()  # the lost lease was reported once


def test_a_slow_renewal_does_not_put_off_the_next(store_url: str) -> None:
    """Each renewal extends the lease from when it began, so the next begins a third of
    a lease after that, however long the renewal took (here 80% of that third)."""
    clock = FakeClock()
    store = wakeup_store(open_store(store_url, clock=clock))
    lease = 30.0
    record = OperationRecord(operation=transitions.new_operation(new_name()))
    store.schedule(record, None, WaitPlan(target_kind="handler", target="h"))
    (claimed,) = store.claim_wakeups(
        "w", lease_us=int(lease * 10**6), limit=1, handlers=["h"], pinned_to=""
    )
    began: list[float] = []
    renew = store.renew_wakeups

    def slow_renew(tokens: Any, lease_us: int) -> set[str]:
        began.append(clock.monotonic())
        held = renew(tokens, lease_us)
        clock.advance(0.8 * lease / 3)
        return held

    store.renew_wakeups = slow_renew  # type: ignore[method-assign]
    renewer = LeaseRenewer(store, clock, lease, name="lro-test-lease")
    try:
        renewer.hold(claimed.lease_token)
        assert eventually(lambda: len(began) >= 5, timeout=60)
    finally:
        renewer.stop()
        store.close()
    gaps = [later - earlier for earlier, later in itertools.pairwise(began[:4])]
    assert gaps == pytest.approx([lease / 3] * 3)
