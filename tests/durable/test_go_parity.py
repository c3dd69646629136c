"""Where the Go package's behaviour matters in production: callbacks under K_SERVICE,
child endpoints in Go's URL form, Cloud Tasks errors in ``start``, and handlers that no
process registers."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport
from google.cloud.workflows import executions_v1
from google.longrunning import operations_pb2_grpc
from google.protobuf import wrappers_pb2

import lro
from lro._resume.tasks import TasksResumer, create_retry
from lro.serving import OperationsServicer
from tests.durable.conftest import eventually
from tests.recording_server import RecordingServer
from tests.serving.test_cloud_resumption import RESUME_HOST, _workflows

CREATE_EXECUTION = "/google.cloud.workflows.executions.v1.Executions/CreateExecution"
CREATE_TASK = "/google.cloud.tasks.v2.CloudTasks/CreateTask"
QUEUE = "projects/p/locations/europe-west1/queues/q"
GO_PATH = "/google.longrunning.Operations/GetOperation"
PINNED = "pinned to this process"


@pytest.fixture
def recorder() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K_SERVICE", "svc")


def _arguments(recorder: RecordingServer) -> list[dict[str, object]]:
    return [
        json.loads(executions_v1.CreateExecutionRequest.deserialize(r.body).execution.argument)
        for r in recorder.requests
        if r.method == CREATE_EXECUTION
    ]


def _pinned_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if PINNED in r.getMessage()]


@pytest.mark.usefixtures("production")
def test_in_production_a_callback_gives_way_to_workflows(
    tmp_path: Path, recorder: RecordingServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path}/lro.db"
    resumer = _workflows(recorder)
    with lro.Client(url, worker=False, resume_host=RESUME_HOST, resumer=resumer) as client:
        op = client.new_operation(resume_method="/pkg.Svc/Run", callback=lambda _op: None)
        op.wait(sleep=30, resume_at="p")
        assert client.store.get_wakeup(op.name) is None  # type: ignore[attr-defined]
    (argument,) = _arguments(recorder)
    assert argument["resumeEndpoint"] == f"{RESUME_HOST}/pkg.Svc/Run"
    assert _pinned_warnings(caplog) == []


@pytest.mark.usefixtures("production")
def test_in_production_a_callback_gives_way_to_the_method_for_the_worker(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with lro.Client(store_url, worker=False, resume_host="127.0.0.1:1") as client:
        op = client.new_operation(resume_method="/pkg.Svc/Run", callback=lambda _op: None)
        op.wait(sleep=30, resume_at="p")
        wakeup = client.store.get_wakeup(op.name)  # type: ignore[attr-defined]
    assert (wakeup.target_kind, wakeup.target, wakeup.pinned_to) == ("grpc", "/pkg.Svc/Run", "")
    assert _pinned_warnings(caplog) == []


@pytest.mark.usefixtures("production")
def test_in_production_a_pinned_callback_is_warned_of_once(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with lro.Client(store_url, worker=False) as client:
        names = []
        for _ in range(3):
            op = client.new_operation(callback=lambda _op: None)
            op.wait(sleep=30, resume_at="p")
            names.append(op.name)
            assert client.store.get_wakeup(op.name).target_kind == "callback"  # type: ignore[attr-defined]
    (warning,) = _pinned_warnings(caplog)
    assert (warning.name, warning.levelno) == ("lro.resume", logging.WARNING)
    assert names[0] in warning.getMessage()
    assert "scaled down" in warning.getMessage()


def test_in_development_a_callback_is_not_warned_of(
    store_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("K_SERVICE", raising=False)
    with lro.Client(store_url, worker=False) as client:
        op = client.new_operation(callback=lambda _op: None)
        op.wait(sleep=30, resume_at="p")
    assert _pinned_warnings(caplog) == []


@pytest.mark.parametrize(
    "child_endpoint",
    ["https://other.run.app", f"https://other.run.app{GO_PATH}", "other.run.app:443"],
)
def test_workflows_get_one_poll_endpoint_from_either_form(
    tmp_path: Path, recorder: RecordingServer, child_endpoint: str
) -> None:
    url = f"sqlite:///{tmp_path}/lro.db"
    resumer = _workflows(recorder)
    with lro.Client(url, worker=False, resume_host=RESUME_HOST, resumer=resumer) as client:
        op = client.new_operation(resume_method="/pkg.Svc/Run")
        op.wait(children=["operations/c1"], child_endpoint=child_endpoint, resume_at="p")
    (argument,) = _arguments(recorder)
    port = ":443" if child_endpoint.endswith(":443") else ""
    assert argument["pollEndpoint"] == f"https://other.run.app{port}{GO_PATH}"
    assert argument["pollEndpointAudience"] == f"https://other.run.app{port}"


@pytest.fixture
def second_server(tmp_path: Path) -> Iterator[tuple[lro.Client, str]]:
    """Another lro service with its own store; its address as Go's GetOperation URL."""
    other = lro.Client(f"sqlite:///{tmp_path}/second.db", worker=False)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    operations_pb2_grpc.add_OperationsServicer_to_server(OperationsServicer(other), server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield other, f"http://127.0.0.1:{port}{GO_PATH}"
    server.stop(None)
    other.close()


def test_the_worker_polls_a_child_endpoint_given_in_gos_form(
    durable_client: lro.Client, second_server: tuple[lro.Client, str]
) -> None:
    other, go_url = second_server
    child = other.new_operation()

    @durable_client.resumable("go-form")
    def parent(op: lro.Operation[object]) -> None:
        if op.resume_point:
            op.done(wrappers_pb2.StringValue(value=f"timed out: {op.wait_timed_out}"))
            return
        op.wait(children=[child.name], child_endpoint=go_url, poll_frequency=0.1, resume_at="p")

    op = durable_client.start("go-form")
    assert eventually(lambda: durable_client.store.get(op.name).resume_point == "p")
    wakeup = durable_client.store.get_wakeup(op.name)  # type: ignore[attr-defined]
    assert wakeup.child_endpoint == go_url.removesuffix(GO_PATH)
    child.done()
    final = durable_client.wait_operation(op.name, timeout=20)
    value = wrappers_pb2.StringValue()
    lro.unmarshal_operation(final, value)
    assert value.value == "timed out: False"


def test_a_sync_wait_takes_a_child_endpoint_in_gos_form(
    durable_client: lro.Client, second_server: tuple[lro.Client, str]
) -> None:
    other, go_url = second_server
    child = other.new_operation()
    threading.Timer(0.2, child.done).start()
    found = durable_client.new_operation().wait(
        children=[child.name], child_endpoint=go_url, timeout=10
    )
    assert found[child.name].done


def _tasks_client(url: str, recorder: RecordingServer, deadline: float = 30) -> lro.Client:
    channel = grpc.insecure_channel(recorder.address)
    tasks = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
    resumer = TasksResumer(
        QUEUE,
        "sa@p.iam.gserviceaccount.com",
        RESUME_HOST,
        tasks_client=tasks,
        retry=create_retry(deadline),
    )
    client = lro.Client(url, worker=False, resumer=resumer)
    client.resumable("report")(lambda op: op.done())
    return client


UNSCHEDULED = {
    "permanent": ([grpc.StatusCode.PERMISSION_DENIED], lro.PermissionDenied),
    "transient-past-the-deadline": ([grpc.StatusCode.UNAVAILABLE] * 50, lro.Unavailable),
}


@pytest.mark.parametrize("case", sorted(UNSCHEDULED))
def test_a_task_that_cannot_be_created_ends_the_operation(
    store_url: str, recorder: RecordingServer, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    answers, error = UNSCHEDULED[case]
    recorder.answer(CREATE_TASK, *answers)
    with _tasks_client(store_url, recorder, deadline=0.5) as client:
        with pytest.raises(error) as caught:
            client.start("report")
        (operation,), _ = client.list_operations()
    assert operation.done
    assert operation.error.code == error.code
    assert operation.name in caught.value.message
    for text in (operation.error.message, caught.value.message):
        assert "projects/" not in text  # the queue, the project: for the log only
        assert "could not be scheduled" in text
    (logged,) = [r for r in caplog.records if operation.name in r.getMessage()]
    assert (logged.name, logged.levelno) == ("lro.resume", logging.ERROR)
    assert logged.exc_info is not None


def test_start_refuses_a_handler_this_client_does_not_register(store_url: str) -> None:
    with lro.Client(store_url, worker=False) as client:
        client.resumable("known")(lambda op: op.done())
        with pytest.raises(lro.FailedPrecondition) as caught:
            client.start("knwon")
        assert "'knwon'" in caught.value.message
        assert "registered_elsewhere=True" in caught.value.message
        assert client.list_operations() == ([], "")
        elsewhere = client.start("in-another-process", registered_elsewhere=True)
        wakeup = client.store.get_wakeup(elsewhere.name)  # type: ignore[attr-defined]
        assert (wakeup.target_kind, wakeup.target) == ("handler", "in-another-process")


def test_workers_warn_once_of_handlers_nobody_here_registers(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = lro.WorkerSettings(threads=2, lease=0.3, poll_interval=0.05)
    with lro.Client(store_url, worker=settings) as client:
        client.resumable("known")(lambda op: op.done())
        for _ in range(2):
            client.start("ghost", registered_elsewhere=True)
        client.start_worker()
        assert eventually(lambda: "'ghost'" in caplog.text)
        client.start("phantom", registered_elsewhere=True)
        assert eventually(lambda: "'phantom'" in caplog.text)
        threading.Event().wait(0.5)  # more ticks: no repeats
        known = client.start("known")
        assert client.wait_operation(known.name, timeout=20).done
    warnings = [r for r in caplog.records if "does not register" in r.getMessage()]
    assert sorted(r.getMessage().split("'")[1] for r in warnings) == ["ghost", "phantom"]
    assert {(r.name, r.levelno) for r in warnings} == {("lro.worker", logging.WARNING)}
