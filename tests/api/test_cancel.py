"""Cancellation as a running handler sees it (AIP-151: best effort)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import google.longrunning.operations_proto_pb2 as operations_pb2
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


def test_a_sleeping_handler_is_woken_by_cancel(client: lro.Client) -> None:
    op = client.new_operation()
    thread, errors = _run(lambda: op.wait(sleep=60, poll_frequency=60))
    time.sleep(0.1)
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
    time.sleep(0.1)
    client.cancel_operation(parent.name)
    thread.join(10)
    assert [type(error) for error in errors] == [lro.Cancelled]
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


class _Service:
    """An Operations service whose children never finish, recording cancellations."""

    def __init__(self) -> None:
        self.cancelled: list[str] = []

    def GetOperation(  # noqa: N802
        self, request: operations_pb2.GetOperationRequest
    ) -> operations_pb2.Operation:
        return operations_pb2.Operation(name=request.name)

    def CancelOperation(  # noqa: N802
        self, request: operations_pb2.CancelOperationRequest
    ) -> None:
        self.cancelled.append(request.name)


def test_cancel_stops_a_wait_on_another_service(client: lro.Client) -> None:
    op = client.new_operation()
    service = _Service()
    thread, errors = _run(
        lambda: op.wait(children=["operations/remote"], service=service, timeout=60)
    )
    time.sleep(0.2)
    client.cancel_operation(op.name)
    thread.join(10)
    assert [type(error) for error in errors] == [lro.Cancelled]
    assert service.cancelled == ["operations/remote"]


def test_delete_does_not_cancel(client: lro.Client) -> None:
    op = client.new_operation()
    thread, errors = _run(lambda: op.wait(sleep=0.4))
    time.sleep(0.1)
    client.delete_operation(op.name)
    thread.join(10)
    assert errors == []
