"""Cancellation as a running handler sees it (AIP-151: best effort)."""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import pytest
from google.rpc import code_pb2

import lro


def _run(target: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_cancel_ends_a_running_operation_only(client: lro.Client) -> None:
    running, finished = client.new_operation(), client.new_operation()
    finished.done()
    cancelled = client.cancel_operation(running.name)
    assert cancelled.done
    assert cancelled.error.code == code_pb2.CANCELLED
    assert running.cancelled
    assert client.cancel_operation(finished.name) == finished.get_operation()
    assert not finished.cancelled
    with pytest.raises(lro.OperationAlreadyDone):
        running.done()


def _until_watched(client: lro.Client, name: str) -> None:
    """Wait until a wait in this process watches ``name`` (it is inside ``op.wait``)."""
    deadline = time.monotonic() + 10
    while name not in client.store.changes.watched_names():
        assert time.monotonic() < deadline, f"nobody came to wait for {name}"
        time.sleep(0.005)


def test_a_sleeping_handler_is_woken_by_cancel(client: lro.Client) -> None:
    op = client.new_operation()
    thread, errors = _run(lambda: op.wait(sleep=60, poll_frequency=60))
    _until_watched(client, op.name)
    started = time.monotonic()
    client.cancel_operation(op.name)
    thread.join(10)
    assert time.monotonic() - started < 5  # the notification, not the 60 s sleep
    assert len(errors) == 1
    assert isinstance(errors[0], lro.Cancelled)


def test_waiting_children_are_cancelled_with_their_parent(client: lro.Client) -> None:
    parent = client.new_operation()
    done_child, running_child = client.new_operation(), client.new_operation()
    done_child.done()
    children = [done_child.name, running_child.name]
    thread, errors = _run(lambda: parent.wait(children=children, timeout=60, poll_frequency=60))
    _until_watched(client, running_child.name)  # only the wait for children watches it
    client.cancel_operation(parent.name)
    thread.join(10)
    assert [type(error) for error in errors] == [lro.Cancelled]
    assert client.get_operation(running_child.name).error.code == code_pb2.CANCELLED
    assert client.get_operation(done_child.name).error.code == code_pb2.OK


def test_a_cancel_before_the_wait_still_cancels_its_children(client: lro.Client) -> None:
    parent = client.new_operation()
    done_child, running_child = client.new_operation(), client.new_operation()
    done_child.done()
    client.cancel_operation(parent.name)
    with pytest.raises(lro.Cancelled):
        parent.wait(children=[done_child.name, running_child.name], sleep=30, timeout=30)
    assert client.get_operation(running_child.name).error.code == code_pb2.CANCELLED
    assert client.get_operation(done_child.name).error.code == code_pb2.OK


def test_a_cancelled_operation_is_seen_before_waiting(client: lro.Client) -> None:
    op = client.new_operation()
    client.cancel_operation(op.name)
    with pytest.raises(lro.Cancelled):
        op.wait(sleep=30)
    with pytest.raises(lro.Cancelled):
        op.wait(children=[client.new_operation().name], timeout=30)
    # The handler may record the error it caught; that changes nothing.
    assert op.error(lro.Cancelled()) == op.get_operation()
    assert op.error(lro.Unavailable("down")) == op.get_operation()


@pytest.fixture(scope="module")
def other_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A second ``lro serve`` process on its own SQLite file: (gRPC address, store URL)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('other-service')}/other.db"
    command = [sys.executable, "-m", "lro.cli", "serve", "--db", url]
    with subprocess.Popen(
        [*command, "--grpc-port", "0", "--http-port", "0"], stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        banner = process.stdout.readline()
        found = re.fullmatch(r"lro: gRPC on (127\.0\.0\.1:\d+)\n", banner)
        try:
            assert found, banner
            yield found.group(1), url
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)


class _Polled:
    """A stub of the other service that notes when a wait has polled it."""

    def __init__(self, channel: grpc.Channel) -> None:
        self._stub = operations_grpc.OperationsStub(channel)  # type: ignore[no-untyped-call]
        self.polled = threading.Event()

    def GetOperation(  # noqa: N802
        self, request: operations_pb2.GetOperationRequest
    ) -> operations_pb2.Operation:
        operation: operations_pb2.Operation = self._stub.GetOperation(request)
        self.polled.set()
        return operation

    def CancelOperation(  # noqa: N802
        self, request: operations_pb2.CancelOperationRequest
    ) -> object:
        return self._stub.CancelOperation(request)


def test_cancel_stops_a_wait_on_another_service_and_cancels_its_children_there(
    client: lro.Client, other_service: tuple[str, str]
) -> None:
    address, url = other_service
    op = client.new_operation()
    with lro.Client(url, worker=False) as other, grpc.insecure_channel(address) as channel:
        remote = other.new_operation()
        service = _Polled(channel)
        thread, errors = _run(lambda: op.wait(children=[remote.name], service=service, timeout=60))
        assert service.polled.wait(10)
        client.cancel_operation(op.name)
        thread.join(10)
        assert [type(error) for error in errors] == [lro.Cancelled]
        assert other.get_operation(remote.name).error.code == code_pb2.CANCELLED


def test_children_another_service_cannot_cancel_are_logged(
    client: lro.Client, other_service: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    address, url = other_service
    op = client.new_operation()
    client.cancel_operation(op.name)
    with lro.Client(url, worker=False) as other:
        remote = other.new_operation()
        unknown = "operations/unknown-to-the-other-service"
        with caplog.at_level(logging.WARNING, logger="lro.operation"), pytest.raises(lro.Cancelled):
            op.wait(children=[remote.name, unknown], child_endpoint=address, timeout=60)
        assert other.get_operation(remote.name).error.code == code_pb2.CANCELLED
    (record,) = [r for r in caplog.records if r.name == "lro.operation"]
    assert record.levelno == logging.WARNING
    assert unknown in record.getMessage()
    assert "NOT_FOUND" in record.getMessage()


def test_delete_does_not_cancel(client: lro.Client) -> None:
    op = client.new_operation()
    thread, errors = _run(lambda: op.wait(sleep=0.4))
    _until_watched(client, op.name)
    client.delete_operation(op.name)
    thread.join(10)
    assert errors == []
