"""The Go example's scenario 6, end to end: set the state, wait asynchronously for a
while at "resumePoint1", return; resumed later, read the state back and finish.

Run once with each resume target: a handler registered by name, a gRPC method called
again with x-alis-operation-id, and the development callback.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from google.longrunning import operations_proto_pb2 as operations_pb2
from google.protobuf import wrappers_pb2

import lro
from lro.serving import OperationInterceptor
from tests.durable.conftest import FAST, eventually

SLEEP = 0.2
METHOD = "/test.reports.v1.Reports/Generate"


@dataclasses.dataclass
class MyState:
    rows: int = 0
    note: str = ""


def _answer(op: lro.Operation[MyState]) -> wrappers_pb2.StringValue:
    state = op.state
    return wrappers_pb2.StringValue(value=f"{state.note}:{state.rows}:{op.resume_point}")


def _result(client: lro.Client, name: str) -> str:
    final = client.wait_operation(name, timeout=20)
    assert final.done
    response = wrappers_pb2.StringValue()
    lro.unmarshal_operation(final, response)
    return response.value


def test_scenario_6_with_a_registered_handler(durable_client: lro.Client) -> None:
    runs: list[str] = []

    @durable_client.resumable("reports", state_type=MyState)
    def generate(op: lro.Operation[MyState]) -> None:
        runs.append(op.resume_point)
        if op.resume_point == "resumePoint1":
            op.done(_answer(op))
            return
        op.set_state(MyState(rows=42, note="saved"))
        op.wait(sleep=SLEEP, resume_at="resumePoint1")

    op = durable_client.start("reports")
    assert _result(durable_client, op.name) == "saved:42:resumePoint1"
    assert runs == ["", "resumePoint1"]
    store = durable_client.store
    assert eventually(lambda: store.get_wakeup(op.name) is None)  # type: ignore[attr-defined]


def test_the_wait_is_recorded_with_the_state_before_the_handler_returns(
    durable_client: lro.Client,
) -> None:
    seen: dict[str, Any] = {}
    recorded = threading.Event()

    @durable_client.resumable("recorder", state_type=MyState)
    def recorder(op: lro.Operation[MyState]) -> None:
        if op.resume_point:
            op.done()
            return
        op.state.rows = 7  # changed in place: the durable wait saves it
        op.wait(sleep=30, resume_at="later")
        seen["wakeup"] = durable_client.store.get_wakeup(op.name)  # type: ignore[attr-defined]
        seen["record"] = durable_client.store.get(op.name)
        recorded.set()

    op = durable_client.start("recorder")
    assert recorded.wait(10)
    wakeup, record = seen["wakeup"], seen["record"]
    assert record.resume_point == "later"
    assert json.loads(record.state) == {"rows": 7, "note": ""}
    assert wakeup.target_kind == "handler"
    assert wakeup.target == "recorder"
    assert wakeup.due_time_us - wakeup.schedule_time_us == 30_000_000
    assert not durable_client.get_operation(op.name).done


class _Reports:
    """A gRPC service method in the Go style: returns the operation, works in a thread."""

    def __init__(self, client: lro.Client, intercepted: bool) -> None:
        self.client = client
        self.intercepted = intercepted
        self.resumed_headers: list[str] = []

    def generate(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        if self.intercepted:  # the interceptor passes the method and the header
            op = self.client.new_operation(state_type=MyState)
        else:
            op = self.client.new_operation(
                state_type=MyState, context=context, resume_method=METHOD
            )
        if op.resume_point == "resumePoint1":
            headers = dict(context.invocation_metadata())
            self.resumed_headers.append(str(headers[lro.OPERATION_ID_HEADER]))
            op.done(_answer(op))
            return op.return_rpc().SerializeToString()

        def work() -> None:
            op.set_state(MyState(rows=3, note="grpc"))
            op.wait(sleep=SLEEP, resume_at="resumePoint1")

        threading.Thread(target=work).start()
        return op.return_rpc().SerializeToString()


@pytest.fixture(params=["context", "interceptor"])
def grpc_service(
    request: pytest.FixtureRequest, store_url: str
) -> Iterator[tuple[lro.Client, _Reports, str]]:
    intercepted = request.param == "interceptor"
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        interceptors=[OperationInterceptor()] if intercepted else [],
    )
    port = server.add_insecure_port("127.0.0.1:0")
    address = f"127.0.0.1:{port}"
    client = lro.Client(store_url, resume_host=address, worker=FAST)
    reports = _Reports(client, intercepted)
    handler = grpc.unary_unary_rpc_method_handler(reports.generate)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("test.reports.v1.Reports", {"Generate": handler}),)
    )
    server.start()
    yield client, reports, address
    client.close(grace=5)
    server.stop(None)


def test_scenario_6_with_a_grpc_method_called_again(
    grpc_service: tuple[lro.Client, _Reports, str],
) -> None:
    client, reports, address = grpc_service
    with grpc.insecure_channel(address) as channel:
        raw = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)(
            b"", timeout=10
        )
    returned = operations_pb2.Operation.FromString(raw)
    assert not returned.done
    assert _result(client, returned.name) == "grpc:3:resumePoint1"
    # The header carries the id, as the Go package sends it.
    assert reports.resumed_headers == [returned.name.removeprefix("operations/")]


def test_scenario_6_with_the_development_callback(durable_client: lro.Client) -> None:
    resumed: list[str] = []

    def resume(op: lro.Operation[MyState]) -> None:
        resumed.append(op.resume_point)
        op.done(_answer(op))

    op = durable_client.new_operation(state_type=MyState, callback=resume)
    op.set_state(MyState(rows=5, note="callback"))
    assert op.wait(sleep=SLEEP, resume_at="resumePoint1") == {}
    assert _result(durable_client, op.name) == "callback:5:resumePoint1"
    assert resumed == ["resumePoint1"]
