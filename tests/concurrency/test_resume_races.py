"""The resumption of a parent racing a cancellation, and two workers racing for the
same wake-ups: one outcome each time, never lost, never run twice."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator

import pytest
from google.longrunning import operations_proto_pb2 as operations_pb2
from google.rpc import code_pb2

import lro
from lro._resume.worker import Worker
from tests.concurrency.conftest import RACING
from tests.concurrency.races import (
    Ledger,
    assert_resumed_once_promptly,
    limits,
    race,
    register_parent,
    timed,
    waiting_parent,
)
from tests.durable.conftest import eventually


def _one_outcome(
    ledger: Ledger, name: str, final: operations_pb2.Operation, answer: operations_pb2.Operation
) -> None:
    """Check that a parent that was cancelled while it was resumed ended one way:
    cancelled (and its handler did not finish it), or finished by its handler (and the
    cancel left it so)."""
    assert final.done, f"{name} was neither cancelled nor finished (lost)"
    notes = ledger.notes(name)
    assert len(ledger.runs(name, "after")) <= 1, f"{name} resumed twice: {notes}"
    assert answer == final, "the cancel answered another outcome than the one kept"
    if final.HasField("error"):
        assert final.error.code == code_pb2.CANCELLED
        assert "finished" not in notes, f"{name}: cancelled, yet its handler finished it"
    else:
        assert notes == ["timed out: False", "finished"], f"{name}: finished, yet {notes}"


def _settled(worker: Worker, name: str) -> bool:
    """Whether ``name`` has no wake-up left and ``worker`` runs nothing."""
    return worker.store.get_wakeup(name) is None and worker.running == 0


def test_a_cancel_racing_the_resumption_has_one_outcome(
    racing_client: lro.Client, store_url: str
) -> None:
    limit = limits(store_url)
    ledger = Ledger()
    inside: dict[int, threading.Barrier] = {}

    def meet_the_cancel(op: lro.Operation[dict[str, int]]) -> None:
        barrier = inside.get(op.state["trial"])
        if barrier is not None:
            barrier.wait()

    register_parent(racing_client, ledger, at_resume=meet_the_cancel)
    worker = racing_client.start_worker()
    for trial in range(limit.repeats):
        child = racing_client.new_operation()
        name = waiting_parent(racing_client, [child.name], trial=trial)

        cancel: Callable[[], operations_pb2.Operation] = functools.partial(
            racing_client.cancel_operation, name
        )
        if trial % 2:  # the cancel meets the handler at its resume point
            inside[trial] = threading.Barrier(2, timeout=10)
            child.done()
            (answer,) = race([cancel], inside[trial])
        else:  # the cancel meets the child's finish, which makes the parent due
            finishing: Callable[[], operations_pb2.Operation] = child.done
            _, answer = race([finishing, cancel])
        final = racing_client.wait_operation(name, timeout=limit.prompt)
        assert eventually(functools.partial(_settled, worker, name))
        _one_outcome(ledger, name, final, answer)


@pytest.fixture
def two_workers(store_url: str) -> Iterator[tuple[lro.Client, Ledger]]:
    """Two clients on one store, each with its worker and the handler "parent", and a
    third client without a worker that starts the parents and finishes the children."""
    ledger = Ledger()
    workers = [lro.Client(store_url, worker=RACING) for _ in range(2)]
    for client in workers:
        register_parent(client, ledger)
        client.start_worker()
    starter = lro.Client(store_url, worker=False)
    yield starter, ledger
    starter.close()
    for client in workers:
        client.close(grace=5)


def test_two_workers_run_each_handler_once(
    two_workers: tuple[lro.Client, Ledger], store_url: str
) -> None:
    limit = limits(store_url)
    starter, ledger = two_workers
    batch = min(8, limit.repeats)  # parents at once: more due rows than free threads
    last_finishes: dict[str, float] = {}
    for _ in range(max(1, limit.repeats // batch)):
        children = [starter.new_operation() for _ in range(batch)]
        starts = [lambda child=child: waiting_parent(starter, [child.name]) for child in children]
        names = race(starts)  # both workers claim the new wake-ups as they come
        finished = race([timed(child.done) for child in children])
        last_finishes.update(zip(names, finished, strict=True))
    assert_resumed_once_promptly(ledger, "after", last_finishes, limit.prompt)
    twice = {name: ledger.runs(name, "start") for name in last_finishes}
    assert all(len(runs) == 1 for runs in twice.values()), f"started twice: {twice}"
