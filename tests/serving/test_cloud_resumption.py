"""Durable waits handed to Cloud Workflows and Cloud Tasks, checked at the wire, and the
resume endpoint that Cloud Tasks calls, on a real HTTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
import pytest
import requests
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport
from google.cloud.workflows import executions_v1
from google.cloud.workflows.executions_v1.services.executions.transports import (
    ExecutionsGrpcTransport,
)
from google.protobuf import wrappers_pb2
from google.rpc import code_pb2

import lro
from lro._client_base import choose_resumer
from lro._resume.tasks import TasksResumer
from lro._resume.workflows import WorkflowsResumer, workflow_argument
from lro.serving import http_app
from tests.recording_server import RecordingServer
from tests.serving.conftest import UvicornThread

CREATE_EXECUTION = "/google.cloud.workflows.executions.v1.Executions/CreateExecution"
CREATE_TASK = "/google.cloud.tasks.v2.CloudTasks/CreateTask"
QUEUE = "projects/p/locations/europe-west1/queues/q"
SECRET = "a-shared-secret-of-32-characters"  # noqa: S105 (a test's own secret)
RESUME_HOST = "https://svc.run.app"


class FakeContext:
    """A stand-in for grpc.ServicerContext: only invocation metadata is read."""

    def __init__(self, *metadata: tuple[str, str]) -> None:
        self._metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata


@pytest.fixture
def recorder() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


def _workflows(recorder: RecordingServer) -> WorkflowsResumer:
    recorder.answer(
        CREATE_EXECUTION,
        executions_v1.Execution.serialize(executions_v1.Execution(name="executions/e1")),
    )
    channel = grpc.insecure_channel(recorder.address)
    client = executions_v1.ExecutionsClient(transport=ExecutionsGrpcTransport(channel=channel))
    return WorkflowsResumer("proj", "europe-west1", RESUME_HOST, executions_client=client)


def _tasks(recorder: RecordingServer) -> TasksResumer:
    channel = grpc.insecure_channel(recorder.address)
    client = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
    return TasksResumer(QUEUE, "sa@p.iam.gserviceaccount.com", RESUME_HOST, tasks_client=client)


def test_a_grpc_wait_goes_to_workflows_with_the_go_argument(
    tmp_path: Path, recorder: RecordingServer
) -> None:
    url = f"sqlite:///{tmp_path}/lro.db"
    resumer = _workflows(recorder)
    with lro.Client(url, worker=False, resume_host=RESUME_HOST, resumer=resumer) as client:
        child = client.new_operation()
        op = client.new_operation(state_type=dict, resume_method="/pkg.Svc/Run")
        op.state = {"step": 1}
        assert op.wait(sleep=30, children=[child.name], timeout=600, resume_at="p1") == {}
        again = client.new_operation(state_type=dict, existing=op.name)
        assert (again.resume_point, again.state) == ("p1", {"step": 1})
        assert client.store.get_wakeup(op.name) is None  # type: ignore[attr-defined]
    (request,) = [r for r in recorder.requests if r.method == CREATE_EXECUTION]
    execution = executions_v1.CreateExecutionRequest.deserialize(request.body)
    assert (
        execution.parent == "projects/proj/locations/europe-west1/workflows/alis-managed-operations"
    )
    assert json.loads(execution.execution.argument) == workflow_argument(
        op.name,
        resume_host=RESUME_HOST,
        resume_method="/pkg.Svc/Run",
        sleep=30,
        children=[child.name],
        poll_frequency=3,
        timeout=600,
    )


def test_waits_workflows_cannot_serve_stay_with_the_embedded_worker(
    tmp_path: Path, recorder: RecordingServer
) -> None:
    url = f"sqlite:///{tmp_path}/lro.db"
    resumer = _workflows(recorder)
    with lro.Client(url, worker=False, resume_host=RESUME_HOST, resumer=resumer) as client:
        op = client.new_operation(callback=lambda op: None)
        op.wait(sleep=5, resume_at="later")
        assert client.store.get_wakeup(op.name) is not None  # type: ignore[attr-defined]
    assert recorder.requests == []


def test_resumer_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("K_SERVICE", raising=False)
    assert choose_resumer("auto", "p", "l", RESUME_HOST) is None
    assert isinstance(choose_resumer("workflows", "p", "l", RESUME_HOST), WorkflowsResumer)
    monkeypatch.setenv("K_SERVICE", "svc")
    assert isinstance(choose_resumer("auto", "p", "l", RESUME_HOST), WorkflowsResumer)
    assert choose_resumer("auto", "", "l", RESUME_HOST) is None  # no project: embedded
    assert choose_resumer("embedded", "p", "l", RESUME_HOST) is None
    with pytest.raises(lro.InvalidArgument):
        choose_resumer("cron", "p", "l", RESUME_HOST)
    with pytest.raises(lro.InvalidArgument, match="ALIS_OS_PROJECT"):
        choose_resumer("workflows", "", "", RESUME_HOST)


def test_a_workflows_resume_after_the_timeout_shows_on_the_operation(
    client: lro.Client,
) -> None:
    op = client.new_operation()
    resumed = client.new_operation(
        context=FakeContext(
            ("x-alis-operation-id", op.name.split("/")[-1]), ("x-alis-wait-timed-out", "true")
        )
    )
    assert resumed.name == op.name
    assert resumed.wait_timed_out
    plain = client.new_operation(context=FakeContext(("x-alis-operation-id", op.name)))
    assert plain.wait_timed_out  # as stored; only a new durable wait clears it


@pytest.fixture
def tasks_setup(
    tmp_path: Path, recorder: RecordingServer
) -> Iterator[tuple[lro.Client, RecordingServer, str, list[Any]]]:
    """A client resuming through Cloud Tasks, its resume endpoint under uvicorn, and the
    log of handler runs."""
    runs: list[Any] = []
    client = lro.Client(f"sqlite:///{tmp_path}/lro.db", worker=False, resumer=_tasks(recorder))

    @client.resumable("report", state_type=dict)
    def report(op: lro.Operation[dict[str, int]]) -> None:
        runs.append((op.resume_point, dict(op.state)))
        if op.state.get("fail_times", 0) > op.attempts:
            raise lro.Unavailable("downstream is down")
        if op.resume_point == "":
            op.state = {**op.state, "rows": 42}
            op.wait(sleep=60, resume_at="after-sleep")
            return
        op.done(wrappers_pb2.Int32Value(value=op.state["rows"]))

    server = UvicornThread(
        http_app(client, resume_auth=lro.SharedSecretAuthenticator(SECRET), max_attempts=3)
    )
    yield client, recorder, server.url, runs
    server.stop()
    client.close()


def _dispatch(recorder: RecordingServer, base_url: str, index: int, secret: str = SECRET) -> Any:
    """Do what Cloud Tasks does with recorded task ``index``: call its URL."""
    tasks = [r for r in recorder.requests if r.method == CREATE_TASK]
    task = tasks_v2.CreateTaskRequest.deserialize(tasks[index].body).task
    target = urlsplit(task.http_request.url)
    assert f"{target.scheme}://{target.netloc}" == RESUME_HOST
    return requests.put(
        f"{base_url}{target.path}?{target.query}",
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    )


def test_start_and_sleep_go_through_cloud_tasks(
    tasks_setup: tuple[lro.Client, RecordingServer, str, list[Any]],
) -> None:
    client, recorder, base_url, runs = tasks_setup
    op = client.start("report", state={"fail_times": 0})
    assert _dispatch(recorder, base_url, 0).json()["outcome"] == "resumed"
    assert runs == [("", {"fail_times": 0})]
    tasks = [
        tasks_v2.CreateTaskRequest.deserialize(r.body).task
        for r in recorder.requests
        if r.method == CREATE_TASK
    ]
    assert len(tasks) == 2
    assert tasks[0].name != tasks[1].name  # one task per wake-up
    assert tasks[1].schedule_time.timestamp() - tasks[0].schedule_time.timestamp() >= 59
    assert _dispatch(recorder, base_url, 1).json()["outcome"] == "resumed"
    assert runs[-1] == ("after-sleep", {"fail_times": 0, "rows": 42})
    final = client.get_operation(op.name)
    assert final.done
    assert _dispatch(recorder, base_url, 1).json()["outcome"] == "done"  # a repeated task
    assert len(runs) == 2


def test_failures_are_retried_by_cloud_tasks_then_end_the_operation(
    tasks_setup: tuple[lro.Client, RecordingServer, str, list[Any]],
) -> None:
    client, recorder, base_url, _runs = tasks_setup
    flaky = client.start("report", state={"fail_times": 1})
    first = _dispatch(recorder, base_url, 0)
    assert first.status_code == 503
    assert client.store.get(flaky.name).attempts == 1
    assert _dispatch(recorder, base_url, 0).json()["outcome"] == "resumed"
    broken = client.start("report", state={"fail_times": 99})
    statuses = [_dispatch(recorder, base_url, 2).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    final = client.get_operation(broken.name)
    assert final.done
    assert final.error.code == code_pb2.UNAVAILABLE
    record = client.store.get(broken.name)
    assert (record.attempts, record.last_error) == (3, "UNAVAILABLE: downstream is down")


def test_the_resume_endpoint_refuses_strangers(
    tasks_setup: tuple[lro.Client, RecordingServer, str, list[Any]],
) -> None:
    client, recorder, base_url, runs = tasks_setup
    client.start("report", state={})
    assert _dispatch(recorder, base_url, 0, secret="x" * 32).status_code == 403
    url = f"{base_url}/operations/report?operation=operations/x"
    assert requests.put(url, timeout=10).status_code == 401
    unknown = requests.put(
        f"{base_url}/operations/nobody?operation=operations/x",
        headers={"Authorization": f"Bearer {SECRET}"},
        timeout=10,
    )
    assert unknown.status_code == 404
    bad_name = requests.put(
        f"{base_url}/operations/report?operation=bad",
        headers={"Authorization": f"Bearer {SECRET}"},
        timeout=10,
    )
    assert bad_name.status_code == 400
    assert runs == []


def test_without_resume_auth_the_endpoint_refuses_everything(client: lro.Client) -> None:
    server = UvicornThread(http_app(client))
    try:
        answer = requests.put(
            f"{server.url}/operations/report?operation=operations/x",
            headers={"Authorization": f"Bearer {SECRET}"},
            timeout=10,
        )
    finally:
        server.stop()
    assert answer.status_code == 403
