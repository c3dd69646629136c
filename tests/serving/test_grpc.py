"""The Operations service over gRPC, checked with google-api-core's clients."""

from __future__ import annotations

import threading
import time

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import pytest
from google.api_core import exceptions, operation, operations_v1
from google.protobuf import duration_pb2, struct_pb2, wrappers_pb2
from google.rpc import code_pb2

import lro
from tests.serving.conftest import start_sync_server


def _struct(**values: float) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


def test_get_operation(
    client: lro.Client, operations_client: operations_v1.OperationsClient
) -> None:
    op = client.new_operation(metadata=_struct(progress=0.5))
    fetched = operations_client.get_operation(op.name)
    assert fetched == op.get_operation()
    assert not fetched.done
    op.done(wrappers_pb2.StringValue(value="ok"))
    assert operations_client.get_operation(op.name).done


def test_missing_and_malformed_names(operations_client: operations_v1.OperationsClient) -> None:
    with pytest.raises(exceptions.NotFound, match="not found"):
        operations_client.get_operation("operations/missing")
    with pytest.raises(exceptions.InvalidArgument, match="invalid operation name"):
        operations_client.get_operation("not-an-operation")
    with pytest.raises(exceptions.NotFound):
        operations_client.cancel_operation("operations/missing")
    with pytest.raises(exceptions.NotFound):
        operations_client.delete_operation("operations/missing")


def test_list_pages_through_everything(
    client: lro.Client, operations_client: operations_v1.OperationsClient
) -> None:
    names = {client.new_operation().name for _ in range(120)}
    finished = [client.new_operation() for _ in range(3)]
    for op in finished:
        op.done()
    names |= {op.name for op in finished}
    iterator = operations_client.list_operations("operations", "")
    pages = list(iterator.pages)
    assert len(pages) == 3  # 123 operations at the default page size of 50
    listed = [op.name for page in pages for op in page]
    assert len(listed) == len(set(listed)) == 123
    assert set(listed) == names
    done = list(operations_client.list_operations("operations", "done = true"))
    assert {op.name for op in done} == {op.name for op in finished}


def test_list_is_scoped_to_the_parent(
    client: lro.Client, operations_client: operations_v1.OperationsClient
) -> None:
    top = client.new_operation()
    scoped = [client.new_operation(parent="projects/p/locations/l") for _ in range(2)]
    other = client.new_operation(parent="projects/q/locations/l")
    for name in ("projects/p/locations/l", "projects/p/locations/l/operations"):
        listed = {op.name for op in operations_client.list_operations(name, "")}
        assert listed == {op.name for op in scoped}
    assert {op.name for op in operations_client.list_operations("operations", "")} == {top.name}
    listed = {op.name for op in operations_client.list_operations("projects/q/locations/l", "")}
    assert listed == {other.name}


def test_list_rejects_bad_filters_and_tokens(channel: grpc.Channel, client: lro.Client) -> None:
    for _ in range(3):
        client.new_operation()
    stub = operations_grpc.OperationsStub(channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListOperations(
            operations_pb2.ListOperationsRequest(name="operations", filter="done =")
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "column 7" in (caught.value.details() or "")
    first = stub.ListOperations(
        operations_pb2.ListOperationsRequest(name="operations", page_size=1)
    )
    assert len(first.operations) == 1
    assert first.next_page_token
    for token, query_filter in (
        (first.next_page_token, "done = false"),
        ("x" + first.next_page_token, ""),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListOperations(
                operations_pb2.ListOperationsRequest(
                    name="operations", page_token=token, filter=query_filter
                )
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListOperations(operations_pb2.ListOperationsRequest(name="operations", page_size=-1))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_cancel_and_delete(
    client: lro.Client, operations_client: operations_v1.OperationsClient
) -> None:
    running, finished = client.new_operation(), client.new_operation()
    finished.done()
    operations_client.cancel_operation(running.name)
    operations_client.cancel_operation(finished.name)
    cancelled = operations_client.get_operation(running.name)
    assert cancelled.done
    assert cancelled.error.code == code_pb2.CANCELLED
    assert running.cancelled
    assert operations_client.get_operation(finished.name) == finished.get_operation()
    assert not finished.cancelled
    operations_client.delete_operation(running.name)
    with pytest.raises(exceptions.NotFound):
        operations_client.get_operation(running.name)


def test_delete_does_not_cancel_a_running_handler(
    client: lro.Client, operations_client: operations_v1.OperationsClient
) -> None:
    op = client.new_operation()
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(op.wait(sleep=0.5)))
    thread.start()
    time.sleep(0.1)
    operations_client.delete_operation(op.name)
    thread.join(10)
    assert outcome == [{}]  # the sleep ended normally, without lro.Cancelled


def test_from_gapic_result_of_a_background_handler(
    client: lro.Client, operations_client: operations_v1.OperationsClient
) -> None:
    op = client.new_operation(metadata=_struct(step=1))
    worker = threading.Timer(0.3, lambda: op.done(wrappers_pb2.StringValue(value="exported")))
    worker.start()
    future = operation.from_gapic(
        op.return_rpc(),
        operations_client,
        wrappers_pb2.StringValue,
        metadata_type=struct_pb2.Struct,
    )
    result = future.result(timeout=30)
    worker.join()
    assert result.value == "exported"
    assert future.metadata["step"] == 1


def test_from_gapic_cancel_reaches_the_running_handler(
    client: lro.Client, operations_client: operations_v1.OperationsClient
) -> None:
    op = client.new_operation()
    child = client.new_operation()
    seen: list[BaseException] = []

    def handler() -> None:
        try:
            op.wait(children=[child.name], timeout=30, poll_frequency=30)
        except lro.Cancelled as exc:
            seen.append(exc)
            op.error(exc)  # recording the cancellation again is harmless

    thread = threading.Thread(target=handler)
    thread.start()
    future = operation.from_gapic(op.return_rpc(), operations_client, wrappers_pb2.StringValue)
    deadline = time.monotonic() + 10
    while child.name not in client.store.changes.watched_names():  # the handler waits
        assert time.monotonic() < deadline, "the handler never waited for its child"
        time.sleep(0.005)
    assert future.cancel()
    thread.join(10)
    assert not thread.is_alive()
    assert future.cancelled()
    assert len(seen) == 1
    assert seen[0].code == code_pb2.CANCELLED  # type: ignore[attr-defined]
    with pytest.raises(exceptions.Cancelled):
        future.result(timeout=5)
    assert client.get_operation(child.name).error.code == code_pb2.CANCELLED


def test_wait_operation_returns_when_done(channel: grpc.Channel, client: lro.Client) -> None:
    op = client.new_operation()
    stub = operations_grpc.OperationsStub(channel)
    threading.Timer(0.2, op.done).start()
    started = time.monotonic()
    waited = stub.WaitOperation(
        operations_pb2.WaitOperationRequest(
            name=op.name, timeout=duration_pb2.Duration(seconds=30)
        ),
        timeout=30,
    )
    assert waited.done
    assert time.monotonic() - started < 10  # woken by the change, not the timeout


def test_wait_operation_timeout_and_deadline_give_the_latest_state(
    channel: grpc.Channel, client: lro.Client
) -> None:
    op = client.new_operation(metadata=_struct(step=2))
    stub = operations_grpc.OperationsStub(channel)
    short_timeout = operations_pb2.WaitOperationRequest(
        name=op.name, timeout=duration_pb2.Duration(nanos=300_000_000)
    )
    started = time.monotonic()
    assert stub.WaitOperation(short_timeout, timeout=30) == op.get_operation()
    assert time.monotonic() - started >= 0.3
    # The RPC deadline is the shorter: the answer comes before it, not an error.
    long_timeout = operations_pb2.WaitOperationRequest(
        name=op.name, timeout=duration_pb2.Duration(seconds=60)
    )
    started = time.monotonic()
    assert not stub.WaitOperation(long_timeout, timeout=2.0).done  # an answer, not an error
    assert 1.0 <= time.monotonic() - started < 30  # it waited, and not for the 60 s
    negative = operations_pb2.WaitOperationRequest(
        name=op.name, timeout=duration_pb2.Duration(seconds=-1)
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.WaitOperation(negative, timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_scenario_4_children_behind_another_lro_server(
    client: lro.Client, channel: grpc.Channel, tmp_path: object
) -> None:
    children = [client.new_operation() for _ in range(2)]
    for index, child in enumerate(children):
        threading.Timer(0.1 * (index + 1), child.done).start()
    with lro.Client(f"sqlite:///{tmp_path}/parent.db") as parent_client:
        parent = parent_client.new_operation()
        finished = parent.wait(
            children=[child.name for child in children],
            service=operations_grpc.OperationsStub(channel),
            timeout=30,
            poll_frequency=0.2,
        )
    assert set(finished) == {child.name for child in children}
    assert all(op.done for op in finished.values())


def test_one_call_adds_the_servicer(client: lro.Client) -> None:
    server, address = start_sync_server(client)
    try:
        with grpc.insecure_channel(address) as channel:
            op = client.new_operation()
            stub = operations_grpc.OperationsStub(channel)
            assert (
                stub.GetOperation(operations_pb2.GetOperationRequest(name=op.name)).name == op.name
            )
    finally:
        server.stop(None).wait()


def test_oversized_requests(channel: grpc.Channel) -> None:
    stub = operations_grpc.OperationsStub(channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetOperation(operations_pb2.GetOperationRequest(name="operations/" + "a" * 100_000))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    huge = operations_pb2.ListOperationsRequest(name="operations", filter="x" * 5_000_000)
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListOperations(huge)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert stub.ListOperations(operations_pb2.ListOperationsRequest()).next_page_token == ""
