"""Spans of handler runs, one trace across resumes (in this process and in an
``lro worker`` process), and the metrics, with the real OpenTelemetry SDK."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import pytest
from google.protobuf import wrappers_pb2
from google.rpc import code_pb2, status_pb2
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

import lro
import lro.testing
from lro.serving import OperationInterceptor
from tests.durable.conftest import FAST, eventually
from tests.telemetry.conftest import Telemetry
from tests.telemetry.traced_app import SPANS_ENV

REPO = Path(__file__).resolve().parents[2]
TRACER = trace.get_tracer("tests")


def traceparent(span: trace.Span) -> str:
    context = span.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def run_spans(telemetry: Telemetry, name: str) -> list[ReadableSpan]:
    return [span for span in telemetry.finished_spans() if span.name == f"lro.run {name}"]


def test_the_trace_context_at_creation_is_stored_on_every_backend(
    client: lro.Client, telemetry: Telemetry
) -> None:
    with TRACER.start_as_current_span("request") as request:
        op = client.new_operation()
    assert client.store.get(op.name).trace_context == traceparent(request)
    outside = client.new_operation()
    assert client.store.get(outside.name).trace_context == ""


def test_every_run_of_a_handler_is_a_span_of_the_creating_trace(
    tmp_path: Path, telemetry: Telemetry
) -> None:
    with lro.Client(f"sqlite:///{tmp_path}/lro.db", worker=FAST) as client:

        @client.resumable("export", state_type=dict)
        def export(op: lro.Operation[dict[str, int]]) -> None:
            if op.resume_point == "":
                op.wait(sleep=0.05, resume_at="after")
                return
            with TRACER.start_as_current_span("inside the handler"):
                op.done()

        with TRACER.start_as_current_span("request") as request:
            op = client.start("export")
        assert client.wait_operation(op.name, timeout=30).done
        assert eventually(lambda: len(run_spans(telemetry, "export")) == 2)
    first, second = sorted(run_spans(telemetry, "export"), key=lambda span: span.start_time or 0)
    request_context = request.get_span_context()
    for span, resume_point in ((first, ""), (second, "after")):
        assert span.context is not None
        assert span.context.trace_id == request_context.trace_id
        assert span.parent is not None
        assert span.parent.span_id == request_context.span_id
        assert dict(span.attributes or {}) == {
            "lro.operation.name": op.name,
            "lro.resume_point": resume_point,
            "lro.attempt": 1,
        }
        assert span.status.status_code == StatusCode.OK
    (inside,) = [s for s in telemetry.finished_spans("inside") if s.name == "inside the handler"]
    assert inside.parent is not None
    assert second.context is not None
    assert inside.parent.span_id == second.context.span_id


def test_a_failing_run_is_an_error_span_and_each_attempt_counts(
    tmp_path: Path, telemetry: Telemetry
) -> None:
    settings = lro.WorkerSettings(poll_interval=0.05, retry_delay=0.01, max_attempts=2)
    finished_before = telemetry.counts("lro.operations.finished")
    with lro.Client(f"sqlite:///{tmp_path}/lro.db", worker=settings) as client:

        @client.resumable("flaky")
        def flaky(op: lro.Operation[Any]) -> None:
            raise lro.Unavailable("the dependency is down")

        op = client.start("flaky")
        final = client.wait_operation(op.name, timeout=30)
        assert final.error.code == code_pb2.UNAVAILABLE
        assert eventually(lambda: len(run_spans(telemetry, "flaky")) == 2)
    spans = sorted(run_spans(telemetry, "flaky"), key=lambda span: span.start_time or 0)
    assert [dict(span.attributes or {})["lro.attempt"] for span in spans] == [1, 2]
    for span in spans:
        assert span.status.status_code == StatusCode.ERROR
        assert [event.name for event in span.events] == ["exception"]
    finished = telemetry.counts("lro.operations.finished")
    assert finished.get("UNAVAILABLE", 0) - finished_before.get("UNAVAILABLE", 0) == 1


def test_metrics_count_created_and_finished_operations_by_code_and_the_lag(
    tmp_path: Path, telemetry: Telemetry
) -> None:
    created_before = sum(telemetry.counts("lro.operations.created").values())
    finished_before = telemetry.counts("lro.operations.finished")
    lags_before = sum(point.count for point in telemetry.points("lro.wakeup.lag"))  # type: ignore[attr-defined]
    with lro.Client(f"sqlite:///{tmp_path}/lro.db", worker=FAST) as client:

        @client.resumable("quick")
        def quick(op: lro.Operation[Any]) -> None:
            op.done()

        for _ in range(3):
            client.new_operation().done()
        cancelled = client.new_operation()
        client.cancel_operation(cancelled.name)
        client.cancel_operation(cancelled.name)  # a done one stays as it is: not counted
        client.new_operation().error(lro.NotFound("gone"))
        client.new_operation()  # running
        started = [client.start("quick") for _ in range(2)]
        for op in started:
            assert client.wait_operation(op.name, timeout=30).done
    created = sum(telemetry.counts("lro.operations.created").values()) - created_before
    finished = telemetry.counts("lro.operations.finished")
    delta = {code: count - finished_before.get(code, 0) for code, count in finished.items()}
    assert created == 8
    assert {code: count for code, count in delta.items() if count} == {
        "OK": 5,
        "CANCELLED": 1,
        "NOT_FOUND": 1,
    }
    lags = sum(point.count for point in telemetry.points("lro.wakeup.lag")) - lags_before  # type: ignore[attr-defined]
    assert lags == 2


def _resumed_method(client: lro.Client, fail: bool) -> Any:
    def start(request: wrappers_pb2.StringValue, context: object) -> operations_pb2.Operation:
        op = client.new_operation()
        if fail:
            raise lro.FailedPrecondition("not yet")
        op.done()
        return op.return_rpc()

    return start


@pytest.fixture
def export_server(tmp_path: Path) -> Iterator[tuple[lro.Client, str, list[bool]]]:
    """A gRPC method under OperationInterceptor that continues its operation, then
    finishes it (or raises while ``failing[0]``)."""
    client = lro.Client(f"sqlite:///{tmp_path}/lro.db", worker=False)
    failing = [False]

    def behavior(request: wrappers_pb2.StringValue, context: object) -> operations_pb2.Operation:
        return _resumed_method(client, failing[0])(request, context)  # type: ignore[no-any-return]

    handler = grpc.method_handlers_generic_handler(
        "test.Export",
        {
            "Start": grpc.unary_unary_rpc_method_handler(
                behavior,
                request_deserializer=wrappers_pb2.StringValue.FromString,
                response_serializer=operations_pb2.Operation.SerializeToString,
            )
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(4), interceptors=[OperationInterceptor()])
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield client, f"127.0.0.1:{port}", failing
    server.stop(None).wait()
    client.close()


def test_a_grpc_method_resumed_through_the_interceptor_is_a_span_of_the_trace(
    export_server: tuple[lro.Client, str, list[bool]], telemetry: Telemetry
) -> None:
    client, address, failing = export_server
    with TRACER.start_as_current_span("request") as request:
        failed_op = client.new_operation(resume_method="/test.Export/Start")
        op = client.new_operation(resume_method="/test.Export/Start")
    with grpc.insecure_channel(address) as channel:
        call = channel.unary_unary(
            "/test.Export/Start",
            request_serializer=wrappers_pb2.StringValue.SerializeToString,
            response_deserializer=operations_pb2.Operation.FromString,
        )
        call(
            wrappers_pb2.StringValue(),
            metadata=((lro.OPERATION_ID_HEADER, op.name.split("/")[-1]),),
        )
        failing[0] = True
        with pytest.raises(grpc.RpcError):
            call(
                wrappers_pb2.StringValue(),
                metadata=((lro.OPERATION_ID_HEADER, failed_op.name.split("/")[-1]),),
            )
        failing[0] = False
        call(wrappers_pb2.StringValue())  # a call that resumes nothing is no run
    assert client.get_operation(op.name).done
    spans = run_spans(telemetry, "/test.Export/Start")
    by_operation = {dict(span.attributes or {})["lro.operation.name"]: span for span in spans}
    assert set(by_operation) == {op.name, failed_op.name}
    for span in spans:
        assert span.context is not None
        assert span.context.trace_id == request.get_span_context().trace_id
        assert span.parent is not None
        assert span.parent.span_id == request.get_span_context().span_id
    assert by_operation[op.name].status.status_code == StatusCode.OK
    assert by_operation[failed_op.name].status.status_code == StatusCode.ERROR


def _file_spans(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_trace_across_a_durable_wait_that_resumes_in_an_lro_worker_process(
    tmp_path: Path, telemetry: Telemetry
) -> None:
    url = f"sqlite:///{tmp_path}/lro.db"
    with lro.Client(url, worker=FAST) as client:

        @client.resumable("report", state_type=dict)
        def report(op: lro.Operation[dict[str, int]]) -> None:  # the app's first part
            op.state = {"rows": 7}
            op.wait(sleep=3, resume_at="after")

        with TRACER.start_as_current_span("create request") as request:
            op = client.start("report")
        assert eventually(lambda: client.store.get(op.name).resume_point == "after")
    # This process runs no worker now: the resume can only happen in the other one.
    spans_file = tmp_path / "spans.jsonl"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lro.cli",
            "worker",
            "--db",
            url,
            "--app",
            "tests.telemetry.traced_app:client",
            "--poll-interval",
            "0.05",
        ],
        cwd=REPO,
        env={**os.environ, SPANS_ENV: str(spans_file)},
        stdout=subprocess.DEVNULL,
    )
    try:
        with lro.Client(url, worker=False) as reader:
            final = reader.wait_operation(op.name, timeout=60)
        assert final.done
        assert not final.HasField("error")
        deadline = time.monotonic() + 10
        while not any(s["name"] == "lro.run report" for s in _file_spans(spans_file)):
            assert time.monotonic() < deadline, "the worker exported no run span"
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    request_context = request.get_span_context()
    (here,) = run_spans(telemetry, "report")
    assert here.context is not None
    assert here.context.trace_id == request_context.trace_id
    exported = _file_spans(spans_file)
    (there,) = [span for span in exported if span["name"] == "lro.run report"]
    assert there["context"]["trace_id"] == f"0x{request_context.trace_id:032x}"
    assert there["parent_id"] == f"0x{request_context.span_id:016x}"
    assert there["attributes"] == {
        "lro.operation.name": op.name,
        "lro.resume_point": "after",
        "lro.attempt": 1,
    }
    assert there["status"]["status_code"] == "OK"
    (work,) = [span for span in exported if span["name"].startswith("work pid=")]
    assert work["name"] != f"work pid={os.getpid()}"  # the other process ran it
    assert work["parent_id"] == there["context"]["span_id"]


WITHOUT_OTEL = """
import sys


class Hidden:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(name, name=name)
        return None


sys.meta_path.insert(0, Hidden())
import lro
from lro import _telemetry

assert not _telemetry.ENABLED
with lro.Client(sys.argv[1]) as client:
    @client.resumable("quick")
    def quick(op):
        op.done()

    op = client.start("quick")
    assert client.wait_operation(op.name, timeout=30).done
    assert client.store.get(op.name).trace_context == ""
print("ran")
"""


def test_without_the_api_lro_runs_unchanged(tmp_path: Path) -> None:
    ran = subprocess.run(
        [sys.executable, "-c", WITHOUT_OTEL, f"sqlite:///{tmp_path}/lro.db"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "ran\n"


def test_the_wakeup_lag_is_measured_on_the_runtimes_clock(telemetry: Telemetry) -> None:
    def lag_sum() -> float:
        return sum(point.sum for point in telemetry.points("lro.wakeup.lag"))  # type: ignore[attr-defined]

    with lro.testing.Environment() as env:

        @env.client.resumable("late")
        def late(op: lro.Operation[Any]) -> None:
            op.done()

        before = lag_sum()
        env.client.start("late")
        env.advance(3600)  # the first run was due an hour ago on the fake clock
        assert lag_sum() - before == pytest.approx(3600)


def test_a_status_code_outside_google_rpc_counts_under_its_number(
    tmp_path: Path, telemetry: Telemetry
) -> None:
    finished_before = telemetry.counts("lro.operations.finished")
    with lro.Client(f"sqlite:///{tmp_path}/lro.db", worker=False) as client:
        client.new_operation().error(status_pb2.Status(code=99, message="the app's own code"))
        client.new_operation().error(status_pb2.Status(code=code_pb2.ABORTED, message="known"))
    finished = telemetry.counts("lro.operations.finished")
    assert finished.get("99", 0) - finished_before.get("99", 0) == 1
    assert finished.get("ABORTED", 0) - finished_before.get("ABORTED", 0) == 1
