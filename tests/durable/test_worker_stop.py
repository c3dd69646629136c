"""A worker's stop is not held up by a claim in flight or a release that fails: it stops
claiming at once, runs nothing that a late claim takes and gives that back, and leaves
a lease it cannot release to run out.

On the Spanner emulator a claim is a read-write transaction that waits its turn (one at
a time) and is aborted and retried while another runs; there a claim that cannot commit
soon gives up, having claimed nothing.
"""

from __future__ import annotations

import threading
from typing import Any

import lro
from lro._resume.worker import Worker
from tests.conftest import fresh_spanner_url
from tests.durable.conftest import eventually
from tests.durable.held_claims import HeldClaims

# Outcome bounds, far above what the stop needs (a claim in flight is waited for 10 s).
STOP_LIMIT = 30.0


def _stopped_in_time(worker: Worker) -> bool:
    """Whether ``worker.stop`` returns within ``STOP_LIMIT`` seconds."""
    stopper = threading.Thread(target=worker.stop, kwargs={"grace": 1.0}, daemon=True)
    stopper.start()
    stopper.join(STOP_LIMIT)
    return not stopper.is_alive()


def _claimers() -> int:
    return sum(thread.name == "lro-claimer" for thread in threading.enumerate())


def _client_with_handler(store_url: str, runs: list[str]) -> lro.Client:
    client = lro.Client(store_url, worker=False)

    @client.resumable("noted")
    def noted(op: lro.Operation[object]) -> None:
        runs.append(op.name)
        op.done()

    return client


def test_a_claim_in_flight_does_not_hold_up_the_stop_and_runs_nothing(store_url: str) -> None:
    claimers_before = _claimers()
    runs: list[str] = []
    client = _client_with_handler(store_url, runs)
    blocked = HeldClaims(client.store)
    client.store.claim_wakeups = blocked  # type: ignore[attr-defined]
    worker = Worker(client.runtime, lro.WorkerSettings(poll_interval=0.05, lease=30.0))
    store: Any = client.store
    try:
        blocked.hold.set()
        assert blocked.held.wait(30)  # the worker's claim is in flight, and waits
        op = client.start("noted")  # due now: the claim takes it once let go
        assert _stopped_in_time(worker)
        blocked.let_go.set()
        assert eventually(lambda: _claimers() == claimers_before, STOP_LIMIT)

        def given_back() -> bool:
            wakeup = store.get_wakeup(op.name)
            return wakeup is not None and wakeup.claims == 1 and wakeup.lease_token == ""

        assert eventually(given_back, STOP_LIMIT)  # claimed late, then released
        assert runs == []
    finally:
        blocked.let_go.set()
        client.close()


def test_a_spanner_claim_that_cannot_have_its_turn_gives_up_at_stop(
    spanner_database: str,
) -> None:
    claimers_before = _claimers()
    runs: list[str] = []
    client = _client_with_handler(fresh_spanner_url(spanner_database), runs)
    store: Any = client.store
    turn = store._transaction_lock  # the emulator's one transaction, in this process
    assert turn is not None
    op = client.start("noted")
    assert turn.acquire(timeout=30)  # another transaction of this process runs, long
    try:
        worker = Worker(client.runtime, lro.WorkerSettings(poll_interval=0.05, lease=30.0))
        assert _stopped_in_time(worker)
        assert eventually(lambda: _claimers() == claimers_before, STOP_LIMIT)
    finally:
        turn.release()
    wakeup = store.get_wakeup(op.name)
    assert (wakeup.claims, wakeup.lease_token) == (0, "")  # nothing claimed
    assert runs == []
    client.close()


def test_a_release_that_fails_at_stop_leaves_the_lease_to_run_out(store_url: str) -> None:
    started, stuck = threading.Event(), threading.Event()
    client = lro.Client(store_url, worker=False)
    store: Any = client.store
    release_wakeups = store.release_wakeups

    @client.resumable("stuck")
    def stuck_handler(op: lro.Operation[object]) -> None:
        started.set()
        stuck.wait(120)

    def failing_release(tokens: list[str]) -> int:
        raise lro.Error("the store is gone")

    op = client.start("stuck")
    worker = Worker(client.runtime, lro.WorkerSettings(poll_interval=0.05, lease=30.0))
    try:
        assert started.wait(30)
        held = store.get_wakeup(op.name)
        store.release_wakeups = failing_release
        assert _stopped_in_time(worker)  # and raised nothing
        kept = store.get_wakeup(op.name)
        assert kept.lease_token == held.lease_token  # it runs out in its time
    finally:
        stuck.set()
        store.release_wakeups = release_wakeups
        client.close()


def test_a_spanner_release_that_cannot_have_its_turn_does_not_hold_up_the_stop(
    spanner_database: str,
) -> None:
    started, stuck = threading.Event(), threading.Event()
    client = lro.Client(fresh_spanner_url(spanner_database), worker=False)

    @client.resumable("stuck")
    def stuck_handler(op: lro.Operation[object]) -> None:
        started.set()
        stuck.wait(120)

    store: Any = client.store
    op = client.start("stuck")
    worker = Worker(client.runtime, lro.WorkerSettings(poll_interval=0.05, lease=30.0))
    turn = store._transaction_lock  # the emulator's one transaction, in this process
    try:
        assert started.wait(30)
        held = store.get_wakeup(op.name)
        assert turn.acquire(timeout=30)  # another transaction of this process runs, long
        try:
            assert _stopped_in_time(worker)  # the handler still runs; its release gave up
        finally:
            turn.release()
        kept = store.get_wakeup(op.name)
        assert kept.lease_token == held.lease_token  # it runs out in its time
    finally:
        stuck.set()
        client.close()
