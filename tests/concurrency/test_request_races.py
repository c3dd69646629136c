"""Operations of one id, or of one request id, created by threads released together
(through two clients on one database): one operation each time, and one run of its
handler."""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import lro
from tests.concurrency.conftest import RACING
from tests.concurrency.races import limits, race
from tests.durable.conftest import eventually

THREADS = 8


@pytest.fixture
def clients(racing_client: lro.Client, store_url: str) -> Iterator[list[lro.Client]]:
    """Two clients on one empty store, each with its own connections, opened (the race
    is of creations, not of opening the store)."""
    other = lro.Client(store_url, worker=RACING)
    racing_client.open()
    other.open()
    yield [racing_client, other]
    other.close(grace=5)


def _settled(store: Any, name: str) -> bool:
    """Whether ``name`` has no wake-up left (nothing will run its handler again)."""
    return store.get_wakeup(name) is None


def _released(count: int) -> threading.Barrier:
    return threading.Barrier(count, timeout=60)


def test_one_of_many_creators_of_an_id_wins(clients: list[lro.Client], store_url: str) -> None:
    for trial in range(limits(store_url).repeats):
        name = f"operations/op-{trial}"

        def create(client: lro.Client, trial: int = trial) -> str:
            try:
                return client.new_operation(id=f"op-{trial}").name
            except lro.AlreadyExists:
                return "taken"

        actions = [lambda c=clients[i % 2]: create(c) for i in range(THREADS)]
        outcomes = Counter(race(actions, _released(THREADS)))
        assert outcomes == {name: 1, "taken": THREADS - 1}, f"trial {trial}: {outcomes}"
    operations, _ = clients[0].list_operations(page_size=1000)
    assert len(operations) == limits(store_url).repeats


def test_creators_of_one_request_id_get_one_operation(
    clients: list[lro.Client], store_url: str
) -> None:
    for trial in range(limits(store_url).repeats):
        actions = [
            lambda c=clients[i % 2], t=trial: c.new_operation(request_id=f"r-{t}").name
            for i in range(THREADS)
        ]
        names = set(race(actions, _released(THREADS)))
        assert len(names) == 1, f"trial {trial}: {names}"
    operations, _ = clients[0].list_operations(page_size=1000)
    assert len(operations) == limits(store_url).repeats


def test_starters_of_one_request_id_run_the_handler_once(
    clients: list[lro.Client], store_url: str
) -> None:
    runs: Counter[str] = Counter()
    counted = threading.Lock()
    for client in clients:

        @client.resumable("once")
        def once(op: lro.Operation[Any]) -> None:
            with counted:
                runs[op.name] += 1
            op.done()

    def start(client: lro.Client, trial: int) -> str:
        return client.start("once", request_id=f"s-{trial}").name

    started: list[str] = []
    for trial in range(limits(store_url).repeats):
        actions = [functools.partial(start, clients[i % 2], trial) for i in range(THREADS)]
        names = set(race(actions, _released(THREADS)))
        assert len(names) == 1, f"trial {trial}: {names}"
        started.extend(names)
    store: Any = clients[0].store
    for name in started:
        assert clients[0].wait_operation(name, timeout=60).done
        assert eventually(functools.partial(_settled, store, name), timeout=30)
    assert runs == dict.fromkeys(started, 1)  # no wake-up is left to run one again
    operations, _ = clients[0].list_operations(page_size=1000)
    assert sorted(op.name for op in operations) == sorted(started)
