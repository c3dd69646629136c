"""Threads racing on one operation: one finish wins, no update is lost."""

from __future__ import annotations

import threading
from collections import Counter

from google.protobuf import wrappers_pb2

import lro


def test_exactly_one_finish_wins(client: lro.Client) -> None:
    for _round in range(5):
        op = client.new_operation()
        handles = [client.new_operation(existing=op.name) for _ in range(6)]
        outcomes: list[str] = []
        barrier = threading.Barrier(len(handles))

        def finish(
            index: int,
            handle: lro.Operation[None],
            barrier: threading.Barrier = barrier,
            outcomes: list[str] = outcomes,
        ) -> None:
            barrier.wait()
            try:
                if index % 2:
                    handle.done(wrappers_pb2.Int32Value(value=index))
                else:
                    handle.error(RuntimeError(f"handler {index}"))
                outcomes.append("won")
            except lro.OperationAlreadyDone:
                outcomes.append("refused")

        threads = [threading.Thread(target=finish, args=(i, h)) for i, h in enumerate(handles)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert Counter(outcomes) == {"won": 1, "refused": 5}
        assert client.get_operation(op.name).done


def test_no_metadata_or_state_update_is_lost(client: lro.Client) -> None:
    op = client.new_operation(state_type=dict)
    op.set_state({})
    lock = threading.Lock()

    def record(worker: int) -> None:
        handle = client.new_operation(state_type=dict, existing=op.name)
        for step in range(10):
            handle.set_metadata(wrappers_pb2.Int32Value(value=worker * 100 + step))
            with lock:  # the read-modify-write of a dict state is the caller's to guard
                fresh = client.new_operation(state_type=dict, existing=op.name)
                fresh.set_state({**fresh.state, f"{worker}-{step}": True})

    threads = [threading.Thread(target=record, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = client.new_operation(state_type=dict, existing=op.name)
    assert len(final.state) == 40
    assert client.store.get(op.name).version == 1 + 1 + 40 + 40
