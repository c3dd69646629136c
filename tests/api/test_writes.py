"""What a handler may still write: nothing once done, nothing but harmless errors once
cancelled, nothing after a durable wait; and one hot operation under many writers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from google.protobuf import wrappers_pb2
from google.rpc import code_pb2

import lro


def test_a_done_operation_refuses_state_writes(client: lro.Client) -> None:
    op = client.new_operation(state_type=dict)
    op.state = {"step": 1}
    op.done()
    before = client.store.get(op.name)
    with pytest.raises(lro.OperationAlreadyDone):
        op.state = {"step": 2}
    with pytest.raises(lro.OperationAlreadyDone):
        client.new_operation(state_type=dict, existing=op.name).set_state({"step": 3})
    after = client.store.get(op.name)
    assert (after.version, after.update_time_us, after.state) == (
        before.version,
        before.update_time_us,
        before.state,
    )
    assert client.new_operation(state_type=dict, existing=op.name).state == {"step": 1}


def test_every_write_of_a_cancelled_operation_raises_cancelled(client: lro.Client) -> None:
    op = client.new_operation(state_type=dict)
    op.set_metadata(wrappers_pb2.Int32Value(value=1))  # the handle has seen it running
    client.cancel_operation(op.name)
    writes: list[Callable[[], object]] = [
        lambda: op.set_metadata(wrappers_pb2.Int32Value(value=2)),
        lambda: op.set_state({"k": 1}),
        op.done,
    ]
    for write in writes:
        with pytest.raises(lro.Cancelled) as caught:
            write()
        assert caught.value.code == code_pb2.CANCELLED
        assert op.name in caught.value.message
        # Code that catches the old refusal keeps working: a cancelled one is done.
        assert isinstance(caught.value, lro.OperationAlreadyDone)
    stored = client.get_operation(op.name)
    assert stored.error.code == code_pb2.CANCELLED
    assert client.store.get(op.name).state is None


def test_error_on_a_cancelled_operation_is_harmless(client: lro.Client) -> None:
    op = client.new_operation()
    client.cancel_operation(op.name)
    version = client.store.get(op.name).version
    for error in (lro.Cancelled(), ValueError("boom"), lro.Unavailable("down")):
        returned = op.error(error)
        assert returned.error.code == code_pb2.CANCELLED
    assert client.store.get(op.name).version == version
    finished = client.new_operation()
    finished.done()
    with pytest.raises(lro.OperationAlreadyDone):  # done without a cancel: still refused
        finished.error(ValueError("late"))


def test_the_readme_error_pattern_survives_a_cancel(client: lro.Client) -> None:
    op = client.new_operation()
    cancelled = threading.Event()
    failures: list[BaseException] = []

    def work() -> None:
        try:
            try:
                cancelled.wait(10)
                op.set_metadata(wrappers_pb2.Int32Value(value=50))
                op.done()
            except Exception as exc:  # the README's pattern
                op.error(exc)
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    client.cancel_operation(op.name)
    cancelled.set()
    thread.join(10)
    assert failures == []
    assert client.get_operation(op.name).error.code == code_pb2.CANCELLED


def test_writes_after_a_durable_wait_say_to_return(client: lro.Client) -> None:
    outcomes: list[str] = []

    @client.resumable("forgot-return", state_type=dict)
    def forgot_return(op: lro.Operation[dict[str, int]]) -> None:
        if op.resume_point == "":
            op.wait(sleep=0.2, resume_at="later")
            for write in (
                op.done,
                lambda: op.set_metadata(wrappers_pb2.Int32Value(value=1)),
                lambda: op.set_state({"k": 1}),
                lambda: op.error(ValueError("x")),
                lambda: op.wait(sleep=1, resume_at="elsewhere"),
            ):
                try:
                    write()
                    outcomes.append("written")
                except lro.FailedPrecondition as exc:
                    outcomes.append(exc.message)
            return
        op.done(wrappers_pb2.StringValue(value=op.resume_point))

    op = client.start("forgot-return")
    final = client.wait_operation(op.name, timeout=30)
    assert len(outcomes) == 5
    for message in outcomes:
        assert "resume_at='later'" in message
        assert "return from the handler now" in message
    value = wrappers_pb2.StringValue()
    lro.unmarshal_operation(final, value)
    assert value.value == "later"


def _hot_operation(store_url: str, threads: int, writes: int, stores: int) -> None:
    """``threads`` writers of one operation, spread over ``stores`` stores (as if in as
    many processes), each writing ``writes`` times: none fails, none is lost."""
    if store_url.startswith("postgresql") and stores > 1:
        store_url += "&pool_max_size=4"  # spare the server's connections
    clients = [lro.Client(store_url, worker=False) for _ in range(stores)]
    op = clients[0].new_operation()
    barrier = threading.Barrier(threads)
    failures: list[BaseException] = []

    def write(worker: int) -> None:
        handle = clients[worker % stores].new_operation(existing=op.name)
        barrier.wait()
        for step in range(writes):
            try:
                handle.set_metadata(wrappers_pb2.Int32Value(value=worker * 1000 + step))
            except BaseException as exc:
                failures.append(exc)

    pool = [threading.Thread(target=write, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    version = clients[0].store.get(op.name).version
    for client in clients:
        client.close()
    assert failures == []
    assert version == 1 + threads * writes  # no update lost


@pytest.mark.parametrize("stores", [1, 4])
@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
def test_one_hot_operation_takes_40_threads_of_writes(store_url: str, stores: int) -> None:
    _hot_operation(store_url, threads=40, writes=50, stores=stores)


@pytest.mark.parametrize("store_url", ["spanner"], indirect=True)
def test_one_hot_operation_on_spanner(store_url: str) -> None:
    # The emulator runs one read-write transaction at a time: fewer writers.
    _hot_operation(store_url, threads=6, writes=10, stores=2)


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite:///:memory:?synchronous=OFF"])
def test_an_in_memory_sqlite_url_is_refused_clearly(url: str) -> None:
    with pytest.raises(lro.InvalidArgument, match="memory") as caught:
        lro.Client(url)
    assert "file" in caught.value.message


def test_an_in_memory_sqlite_store_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(lro.InvalidArgument, match="memory"):
        lro.SqliteStore(":memory:")
    lro.SqliteStore(tmp_path / "memory.db").close()  # a file whose name says memory is fine
