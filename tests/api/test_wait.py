"""Waiting: the Go example's scenarios 1, 2, 3 and 5, and wait_operation."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from google.longrunning import operations_proto_pb2 as operations_pb2
from google.protobuf import wrappers_pb2
from google.rpc import code_pb2

import lro
from lro._wait import latest_in_store
from lro.serving._requests import latest_async


def _later(seconds: float, action: Callable[[], object]) -> threading.Thread:
    def run() -> None:
        time.sleep(seconds)
        action()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_scenario_1_sleep(client: lro.Client) -> None:
    op = client.new_operation()
    started = time.monotonic()
    assert op.wait(sleep=0.3) == {}
    assert time.monotonic() - started >= 0.3


def test_scenario_2_children_in_this_store(client: lro.Client) -> None:
    op = client.new_operation()
    children = [client.new_operation() for _ in range(2)]
    _later(0.1, lambda: children[0].done(wrappers_pb2.StringValue(value="a")))
    _later(0.2, lambda: children[1].error(lro.Unavailable("down")))
    started = time.monotonic()
    finished = op.wait(children=[c.name for c in children], poll_frequency=30)
    # Woken by notifications, long before the 30 s poll.
    assert time.monotonic() - started < 5
    assert set(finished) == {c.name for c in children}
    assert finished[children[1].name].error.code == code_pb2.UNAVAILABLE


def test_scenario_3_timeout_names_the_running_children(client: lro.Client) -> None:
    op = client.new_operation()
    done_child, slow_child = client.new_operation(), client.new_operation()
    done_child.done()
    with pytest.raises(lro.WaitDeadlineExceeded) as caught:
        op.wait(children=[done_child.name, slow_child.name], timeout=0.3, poll_frequency=0.1)
    assert caught.value.pending == (slow_child.name,)
    assert caught.value.code == code_pb2.DEADLINE_EXCEEDED


def test_waiting_for_a_missing_child_is_not_found(client: lro.Client) -> None:
    op = client.new_operation()
    with pytest.raises(lro.NotFound):
        op.wait(children=["operations/missing"], timeout=1)
    with pytest.raises(lro.InvalidOperationName):
        op.wait(children=["bad"], timeout=1)
    with pytest.raises(lro.InvalidArgument):
        op.wait(sleep=-1)


class CountingService:
    """Scenario 5: any object with GetOperation, here backed by another store."""

    def __init__(self, client: lro.Client) -> None:
        self.client = client
        self.requests: list[str] = []

    def GetOperation(  # noqa: N802
        self, request: operations_pb2.GetOperationRequest
    ) -> operations_pb2.Operation:
        self.requests.append(request.name)
        return self.client.get_operation(request.name)


def test_scenario_5_children_behind_a_service(client: lro.Client, tmp_path: str) -> None:
    with lro.Client(f"sqlite:///{tmp_path}/other.db") as other:
        service = CountingService(other)
        child = other.new_operation()
        _later(0.3, child.done)
        op = client.new_operation()
        finished = op.wait(children=[child.name], service=service, poll_frequency=0.2)
        assert finished[child.name].done
        assert 2 <= len(service.requests) < 30
        assert set(service.requests) == {child.name}


def test_service_errors_end_the_wait(client: lro.Client, tmp_path: str) -> None:
    with lro.Client(f"sqlite:///{tmp_path}/other.db") as other:
        op = client.new_operation()
        with pytest.raises(lro.NotFound):
            op.wait(children=["operations/nowhere"], service=CountingService(other))


def test_another_client_as_service(client: lro.Client, tmp_path: str) -> None:
    with lro.Client(f"sqlite:///{tmp_path}/other.db") as other:
        child = other.new_operation()
        _later(0.1, child.done)
        finished = client.new_operation().wait(children=[child.name], service=other)
        assert finished[child.name].done


def test_wait_operation_helpers(client: lro.Client) -> None:
    op = client.new_operation()
    _later(0.1, lambda: op.done(wrappers_pb2.StringValue(value="v")))
    assert lro.wait_operation(op.name, service=client, timeout=5).done
    running = client.new_operation()
    with pytest.raises(lro.WaitDeadlineExceeded):
        lro.wait_operation(running.name, service=CountingService(client), timeout=0.2)
    latest = client.wait_operation(running.name, timeout=0.1)
    assert latest.name == running.name
    assert not latest.done
    _later(0.1, running.done)
    assert client.wait_operation(running.name, timeout=10).done


def test_wait_operation_default_store(tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRO_DATABASE_URL", f"sqlite:///{tmp_path}/default.db")
    with lro.Client() as client:
        op = client.new_operation()
        op.done()
    assert lro.wait_operation(op.name, timeout=1).done


@pytest.mark.parametrize("driver", ["sync", "asyncio"])
def test_a_wait_that_runs_out_answers_without_reading_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, driver: str
) -> None:
    # A read after the deadline would make WaitOperation answer after the RPC deadline.
    # (No change watch here: a watch may rightly wake the wait once to look again.)
    client = lro.Client(f"sqlite:///{tmp_path}/lro.db?change_poll_ms=0")
    op = client.new_operation()
    reads: list[str] = []
    read = client.store.get

    def counted(name: str) -> object:
        reads.append(name)
        return read(name)

    monkeypatch.setattr(client.store, "get", counted)
    if driver == "sync":
        latest = latest_in_store(client.store, op.name, timeout=0.3)
    else:
        latest = asyncio.run(latest_async(client.store, op.name, 0.3))
    assert reads == [op.name]  # read once, when it began; nothing changed since
    assert latest == op.get_operation()
    client.close()
