from __future__ import annotations

import pytest
from google.longrunning import operations_proto_pb2 as operations_pb2
from google.protobuf import empty_pb2, struct_pb2, wrappers_pb2
from google.rpc import code_pb2, status_pb2

import lro
from lro._core import transitions
from lro._core.anys import pack, unpack


def _running() -> operations_pb2.Operation:
    return transitions.new_operation("operations/a", wrappers_pb2.Int32Value(value=1))


def test_finish_sets_response_and_leaves_input_alone() -> None:
    running = _running()
    done = transitions.finish(running, wrappers_pb2.StringValue(value="ok"))
    assert done.done
    assert not running.done
    assert unpack(done.response, wrappers_pb2.StringValue).value == "ok"
    assert unpack(done.metadata, wrappers_pb2.Int32Value).value == 1


def test_finish_without_response_gives_empty() -> None:
    done = transitions.finish(_running())
    assert done.response.Is(empty_pb2.Empty.DESCRIPTOR)


def test_done_operations_never_change() -> None:
    done = transitions.finish(_running())
    with pytest.raises(lro.OperationAlreadyDone):
        transitions.finish(done)
    with pytest.raises(lro.OperationAlreadyDone):
        transitions.fail(done, status_pb2.Status(code=code_pb2.INTERNAL))
    with pytest.raises(lro.OperationAlreadyDone):
        transitions.set_metadata(done, struct_pb2.Struct())
    assert transitions.cancel(done) is done


def test_fail_and_cancel() -> None:
    failed = transitions.fail(_running(), status_pb2.Status(code=code_pb2.INTERNAL, message="x"))
    assert failed.done
    assert failed.error.code == code_pb2.INTERNAL
    with pytest.raises(lro.InvalidArgument):
        transitions.fail(_running(), status_pb2.Status(code=code_pb2.OK))
    cancelled = transitions.cancel(_running())
    assert cancelled.done
    assert cancelled.error.code == code_pb2.CANCELLED


def test_unpack_names_both_types() -> None:
    packed = pack(wrappers_pb2.StringValue(value="s"))
    with pytest.raises(lro.InvalidArgument, match=r"google.protobuf.StringValue.*Int32Value"):
        unpack(packed, wrappers_pb2.Int32Value)
    assert pack(packed) is packed
    with pytest.raises(lro.InvalidArgument):
        pack("text")  # type: ignore[arg-type]
