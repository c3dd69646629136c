"""Operations by name and by request (AIP-155), a start delay, and reading the metadata
of a running operation; on both faces and every backend."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from google.protobuf import wrappers_pb2

import lro


def _names(client: lro.Client, collection: str = "operations") -> list[str]:
    operations, _ = client.list_operations(name=collection)
    return sorted(op.name for op in operations)


def test_an_id_names_the_operation(client: lro.Client) -> None:
    op = client.new_operation(id="my-op-1")
    assert op.name == "operations/my-op-1"
    under = client.new_operation(id="my-op-1", parent="projects/p/locations/l")
    assert under.name == "projects/p/locations/l/operations/my-op-1"
    assert client.get_operation("operations/my-op-1").name == op.name
    assert client.get_operation(under.name).name == under.name


@pytest.mark.parametrize("bad", ["", "My-op", "1op", "op-", "op_1", "op.1", "a/b", "a" * 64])
def test_a_bad_id_is_invalid_argument_and_writes_nothing(client: lro.Client, bad: str) -> None:
    with pytest.raises(lro.InvalidArgument, match="AIP-122"):
        client.new_operation(id=bad)
    assert _names(client) == []


def test_an_id_with_existing_is_invalid_argument(client: lro.Client) -> None:
    op = client.new_operation()
    with pytest.raises(lro.InvalidArgument, match="existing"):
        client.new_operation(id="other", existing=op.name)


def test_a_taken_id_is_already_exists(client: lro.Client) -> None:
    first = client.new_operation(id="taken", metadata=wrappers_pb2.Int32Value(value=1))
    with pytest.raises(lro.AlreadyExists, match="operations/taken"):
        client.new_operation(id="taken", metadata=wrappers_pb2.Int32Value(value=2))
    assert client.get_operation(first.name).metadata.Is(wrappers_pb2.Int32Value.DESCRIPTOR)
    value = wrappers_pb2.Int32Value()
    client.unmarshal_metadata(first.name, value)
    assert value.value == 1  # the first operation is untouched


def test_a_request_id_returns_the_operation_it_created(client: lro.Client) -> None:
    first = client.new_operation(request_id="req-1", metadata=wrappers_pb2.Int32Value(value=1))
    again = client.new_operation(request_id="req-1", metadata=wrappers_pb2.Int32Value(value=2))
    assert again.name == first.name
    value = wrappers_pb2.Int32Value()
    client.unmarshal_metadata(first.name, value)
    assert value.value == 1
    other = client.new_operation(request_id="req-2")
    elsewhere = client.new_operation(request_id="req-1", parent="projects/p")
    assert len({first.name, other.name, elsewhere.name}) == 3  # per collection
    assert client.new_operation(request_id="req-1", parent="projects/p").name == elsewhere.name
    plain = [client.new_operation().name for _ in range(2)]  # no request id: no constraint
    assert _names(client) == sorted([first.name, other.name, *plain])


def test_a_request_id_wins_over_a_new_id(client: lro.Client) -> None:
    first = client.new_operation(id="first", request_id="req")
    assert client.new_operation(id="first", request_id="req").name == "operations/first"
    assert client.new_operation(id="second", request_id="req").name == first.name
    assert _names(client) == ["operations/first"]


def test_a_bad_request_id_is_invalid_argument(client: lro.Client) -> None:
    for bad in ("", "x" * 257):
        with pytest.raises(lro.InvalidArgument, match="request id"):
            client.new_operation(request_id=bad)
        with pytest.raises(lro.InvalidArgument, match="request id"):
            client.start("h", request_id=bad, registered_elsewhere=True)
    assert _names(client) == []


def test_a_request_id_starts_the_handler_once(client: lro.Client) -> None:
    runs: list[str] = []

    @client.resumable("once")
    def once(op: lro.Operation[Any]) -> None:
        runs.append(op.name)
        op.done(wrappers_pb2.StringValue(value="ok"))

    first = client.start("once", request_id="start-1")
    assert client.wait_operation(first.name, timeout=30).done
    again = client.start("once", request_id="start-1")
    assert again.name == first.name
    assert client.store.get_wakeup(first.name) is None  # type: ignore[attr-defined]
    other = client.start("once", request_id="start-2")
    assert client.wait_operation(other.name, timeout=30).done
    assert sorted(runs) == sorted([first.name, other.name])


def test_a_start_delay_makes_the_first_run_due_after_it(client: lro.Client) -> None:
    delay = 1.0
    ran = threading.Event()
    run_times: list[float] = []

    @client.resumable("later")
    def later(op: lro.Operation[Any]) -> None:
        run_times.append(time.time())
        ran.set()
        op.done()

    before = time.time()
    op = client.start("later", delay=delay)
    wakeup = client.store.get_wakeup(op.name)  # type: ignore[attr-defined]
    if wakeup is not None:  # not yet claimed
        assert wakeup.ready_time_us - wakeup.schedule_time_us == 1_000_000
        assert wakeup.due_time_us == wakeup.ready_time_us
    assert client.wait_operation(op.name, timeout=30).done
    assert ran.is_set()
    assert run_times[0] >= before + delay  # it ran, and not before it was due


def test_a_start_delay_must_be_a_duration(client: lro.Client) -> None:
    for bad in (-1, float("nan"), "soon"):
        with pytest.raises(lro.InvalidArgument, match="delay"):
            client.start("h", delay=bad, registered_elsewhere=True)  # type: ignore[arg-type]
    assert _names(client) == []


def test_unmarshal_metadata_reads_a_running_operation(client: lro.Client) -> None:
    op = client.new_operation(metadata=wrappers_pb2.Int32Value(value=7))
    value = wrappers_pb2.Int32Value()
    client.unmarshal_metadata(op.name, value)
    assert value.value == 7
    assert not client.get_operation(op.name).done
    op.set_metadata(wrappers_pb2.Int32Value(value=8))
    client.unmarshal_metadata(op.name, value)
    assert value.value == 8
    with pytest.raises(lro.InvalidArgument, match=r"google\.protobuf\.Int32Value"):
        client.unmarshal_metadata(op.name, wrappers_pb2.StringValue())
    bare = client.new_operation()
    with pytest.raises(lro.FailedPrecondition, match="no metadata"):
        client.unmarshal_metadata(bare.name, wrappers_pb2.Int32Value())
    with pytest.raises(lro.NotFound):
        client.unmarshal_metadata("operations/missing", wrappers_pb2.Int32Value())
    op.error(lro.Aborted("stopped"))  # a failed operation's metadata is still readable
    client.unmarshal_metadata(op.name, value)
    assert value.value == 8
