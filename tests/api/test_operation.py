"""The Operation API: every method, as a service handler uses it."""

from __future__ import annotations

import dataclasses
import os

import grpc
import pytest
from google.longrunning import operations_proto_pb2 as operations_pb2
from google.protobuf import empty_pb2, struct_pb2, wrappers_pb2
from google.rpc import code_pb2, status_pb2

import lro


@dataclasses.dataclass
class Progress:
    step: str = "start"
    items: list[int] = dataclasses.field(default_factory=list)


class FakeContext:
    """A stand-in for grpc.ServicerContext: only invocation metadata is read."""

    def __init__(self, *metadata: tuple[str, str]) -> None:
        self._metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata


def test_new_operation_is_stored_and_running(client: lro.Client) -> None:
    op = client.new_operation(metadata=wrappers_pb2.Int32Value(value=5))
    assert op.name.startswith("operations/")
    returned = op.return_rpc()
    assert returned.name == op.name
    assert not returned.done
    assert returned.metadata.Is(wrappers_pb2.Int32Value.DESCRIPTOR)
    assert client.get_operation(op.name) == returned
    assert client.get_operation(operations_pb2.GetOperationRequest(name=op.name)) == returned
    assert op.resume_point == ""


def test_parent_scoped_operation(client: lro.Client) -> None:
    op = client.new_operation(parent="projects/p/locations/l")
    assert op.name.startswith("projects/p/locations/l/operations/")
    assert client.get_operation(op.name).name == op.name


def test_set_metadata_then_done(client: lro.Client) -> None:
    op = client.new_operation()
    updated = op.set_metadata(struct_pb2.Struct(fields={"p": struct_pb2.Value(number_value=50)}))
    assert updated.metadata.Is(struct_pb2.Struct.DESCRIPTOR)
    final = op.done(wrappers_pb2.StringValue(value="result"))
    assert final.done
    response = wrappers_pb2.StringValue()
    client.unmarshal_operation(op.name, response)
    assert response.value == "result"


def test_done_without_response_is_empty(client: lro.Client) -> None:
    op = client.new_operation()
    op.done()
    client.unmarshal_operation(op.name, empty_pb2.Empty())


def test_finishing_twice_is_failed_precondition(client: lro.Client) -> None:
    op = client.new_operation()
    op.done(wrappers_pb2.StringValue(value="first"))
    with pytest.raises(lro.OperationAlreadyDone) as caught:
        op.done(wrappers_pb2.StringValue(value="second"))
    assert caught.value.code == code_pb2.FAILED_PRECONDITION
    with pytest.raises(lro.OperationAlreadyDone):
        op.error(RuntimeError("late"))
    with pytest.raises(lro.OperationAlreadyDone):
        op.set_metadata(empty_pb2.Empty())
    response = wrappers_pb2.StringValue()
    client.unmarshal_operation(op.name, response)
    assert response.value == "first"


def test_a_stale_handle_cannot_finish_a_done_operation(client: lro.Client) -> None:
    op = client.new_operation()
    other = client.new_operation(existing=op.name)
    other.error(lro.NotFound("operations/dependency"))
    with pytest.raises(lro.OperationAlreadyDone):
        op.done()
    assert client.get_operation(op.name).error.code == code_pb2.NOT_FOUND


class _RpcError(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.PERMISSION_DENIED

    def details(self) -> str:
        return "no access"


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (ValueError("plain"), code_pb2.UNKNOWN, "plain"),
        (lro.InvalidArgument("bad input"), code_pb2.INVALID_ARGUMENT, "bad input"),
        (_RpcError(), code_pb2.PERMISSION_DENIED, "no access"),
        (status_pb2.Status(code=code_pb2.ABORTED, message="m"), code_pb2.ABORTED, "m"),
    ],
)
def test_error_keeps_codes(
    client: lro.Client, error: BaseException | status_pb2.Status, code: int, message: str
) -> None:
    op = client.new_operation()
    final = op.error(error)
    assert final.done
    assert (final.error.code, final.error.message) == (code, message)
    with pytest.raises(lro.Error) as caught:
        client.unmarshal_operation(op.name)
    assert caught.value.code == code
    assert caught.value.message == message


def test_unmarshal_refuses_running_and_wrong_types(client: lro.Client) -> None:
    op = client.new_operation(metadata=wrappers_pb2.Int32Value(value=1))
    with pytest.raises(lro.FailedPrecondition, match="not done"):
        client.unmarshal_operation(op.name)
    op.done(wrappers_pb2.StringValue(value="x"))
    with pytest.raises(lro.InvalidArgument, match=r"StringValue.*Int32Value"):
        client.unmarshal_operation(op.name, wrappers_pb2.Int32Value())
    metadata = wrappers_pb2.Int32Value()
    lro.unmarshal_operation(client.get_operation(op.name), None, metadata)
    assert metadata.value == 1


def test_delete(client: lro.Client) -> None:
    op = client.new_operation()
    op.delete()
    with pytest.raises(lro.NotFound):
        client.get_operation(op.name)
    with pytest.raises(lro.NotFound):
        op.delete()


def test_bad_names_are_invalid_argument(client: lro.Client) -> None:
    with pytest.raises(lro.InvalidOperationName):
        client.get_operation("operations/has space")
    with pytest.raises(lro.InvalidOperationName):
        client.new_operation(existing="nope")
    with pytest.raises(lro.NotFound):
        client.get_operation("operations/unknown")


def test_typed_state_is_saved_and_loaded(client: lro.Client) -> None:
    op = client.new_operation(state_type=Progress)
    assert op.state == Progress()
    op.state = Progress("half", [1, 2])
    again = client.new_operation(state_type=Progress, existing=op.name)
    assert again.state == Progress("half", [1, 2])
    with pytest.raises(lro.InvalidState):
        op.set_state({"step": "x"})  # type: ignore[arg-type]


def test_state_of_the_wrong_type_is_a_clear_error(client: lro.Client) -> None:
    op = client.new_operation(state_type=dict)
    op.set_state({"a": 1})
    wrong = client.new_operation(state_type=wrappers_pb2.Int32Value, existing=op.name)
    with pytest.raises(lro.InvalidState, match="Int32Value"):
        _ = wrong.state


def test_state_without_a_default_must_be_set_first(client: lro.Client) -> None:
    @dataclasses.dataclass
    class Needs:
        value: int

    op = client.new_operation(state_type=Needs)
    with pytest.raises(lro.FailedPrecondition, match=r"set op\.state first"):
        _ = op.state
    op.state = Needs(3)
    assert op.state == Needs(3)


def test_context_header_continues_the_operation(client: lro.Client) -> None:
    first = client.new_operation(state_type=dict, resume_method="/pkg.Service/Method")
    first.set_state({"step": 2})
    operation_id = first.name.split("/")[-1]
    for header in (operation_id, first.name):
        resumed = client.new_operation(
            state_type=dict, context=FakeContext(("x-alis-operation-id", header))
        )
        assert resumed.name == first.name
        assert resumed.state == {"step": 2}
        assert resumed.resume_method == "/pkg.Service/Method"
    fresh = client.new_operation(context=FakeContext(("other", "x")))
    assert fresh.name != first.name


def test_in_dev_mode_follows_k_service(client: lro.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    op = client.new_operation()
    monkeypatch.delenv("K_SERVICE", raising=False)
    assert op.in_dev_mode
    monkeypatch.setenv("K_SERVICE", "svc")
    assert not op.in_dev_mode


def test_client_reads_the_go_environment(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIS_OS_PROJECT", "proj")
    monkeypatch.setenv("ALIS_REGION", "europe-west1")
    monkeypatch.setenv("ALIS_RUN_HASH", "abc123")
    with lro.Client(store_url) as client:
        assert client.project == "proj"
        assert client.location == "europe-west1"
        assert client.resume_host == "https://internal-gateway-abc123.run.app"
    with lro.Client(store_url, project="p2", resume_host="https://h") as client:
        assert (client.project, client.resume_host) == ("p2", "https://h")


def test_client_default_store_from_environment(
    tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LRO_DATABASE_URL", f"sqlite:///{tmp_path}/env.db")
    with lro.Client() as client:
        assert isinstance(client.store, lro.SqliteStore)
        assert str(client.store.path) == f"{tmp_path}/env.db"


def test_cancel_and_client_helpers(client: lro.Client) -> None:
    op = client.new_operation()
    cancelled = client.cancel_operation(op.name)
    assert cancelled.done
    assert cancelled.error.code == code_pb2.CANCELLED
    assert client.cancel_operation(op.name) == cancelled
    client.delete_operation(op.name)
    with pytest.raises(lro.NotFound):
        client.cancel_operation(op.name)
