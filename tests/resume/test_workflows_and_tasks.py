"""Cloud Workflows and Cloud Tasks resumers, checked at the wire."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator

import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import pytest
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport
from google.cloud.workflows import executions_v1
from google.cloud.workflows.executions_v1.services.executions.transports import (
    ExecutionsGrpcTransport,
)

import lro
from lro._resume.cloud import HandOver
from lro._resume.tasks import TasksResumer, create_retry, task_id
from lro._resume.workflows import WorkflowsResumer, workflow_argument
from lro._store.base import OperationRecord
from tests.recording_server import RecordingServer

CREATE_EXECUTION = "/google.cloud.workflows.executions.v1.Executions/CreateExecution"
CREATE_TASK = "/google.cloud.tasks.v2.CloudTasks/CreateTask"
QUEUE = "projects/p/locations/europe-west1/queues/q"


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


def _channel(server: RecordingServer) -> grpc.Channel:
    return grpc.insecure_channel(server.address)


def test_workflow_argument_is_the_go_packages() -> None:
    argument = workflow_argument(
        "operations/abc-123",
        resume_host="https://internal-gateway-h1.run.app",
        resume_method="/pkg.v1.Service/Method",
        sleep=90.7,
        children=["operations/c1", "operations/c2"],
        poll_frequency=3,
        timeout=420,
    )
    assert argument == {
        "operationId": "abc-123",
        "initialWaitDuration": 90,
        "childOperations": ["operations/c1", "operations/c2"],
        "pollFrequency": 3,
        "pollEndpoint": "https://internal-gateway-h1.run.app/google.longrunning.Operations/GetOperation",
        "pollEndpointAudience": "https://internal-gateway-h1.run.app",
        "resumeEndpoint": "https://internal-gateway-h1.run.app/pkg.v1.Service/Method",
        "resumeEndpointAudience": "https://internal-gateway-h1.run.app",
        "timeout": 420,
    }
    no_children = workflow_argument(
        "projects/p/operations/x",
        resume_host="https://h",
        resume_method="/S/M",
        sleep=1,
        children=[],
        poll_frequency=3,
        timeout=5,
        poll_endpoint="https://other/google.longrunning.Operations/GetOperation",
    )
    assert no_children["operationId"] == "projects/p/operations/x"
    assert no_children["pollEndpointAudience"] == ""
    assert no_children["pollEndpoint"].startswith("https://other/")
    with pytest.raises(lro.InvalidArgument):
        workflow_argument(
            "operations/x",
            resume_host="",
            resume_method="/S/M",
            sleep=0,
            children=[],
            poll_frequency=1,
            timeout=1,
        )


def test_workflows_resumer_sends_one_create_execution(server: RecordingServer) -> None:
    server.answer(
        CREATE_EXECUTION,
        executions_v1.Execution.serialize(executions_v1.Execution(name="executions/e1")),
    )
    client = executions_v1.ExecutionsClient(
        transport=ExecutionsGrpcTransport(channel=_channel(server))
    )
    resumer = WorkflowsResumer(
        "proj", "europe-west1", "https://gw.run.app", executions_client=client
    )
    execution = resumer.hand_over(
        "operations/op-1",
        "/pkg.Service/Run",
        sleep=30,
        children=["operations/child"],
        poll_frequency=5,
        timeout=600,
    )
    assert execution == "executions/e1"
    assert [r.method for r in server.requests] == [CREATE_EXECUTION]
    request = executions_v1.CreateExecutionRequest.deserialize(server.requests[0].body)
    assert (
        request.parent == "projects/proj/locations/europe-west1/workflows/alis-managed-operations"
    )
    assert request.execution.call_log_level == executions_v1.Execution.CallLogLevel.LOG_ALL_CALLS
    assert json.loads(request.execution.argument) == workflow_argument(
        "operations/op-1",
        resume_host="https://gw.run.app",
        resume_method="/pkg.Service/Run",
        sleep=30,
        children=["operations/child"],
        poll_frequency=5,
        timeout=600,
    )


def test_workflows_resumer_needs_project_and_location() -> None:
    with pytest.raises(lro.InvalidArgument, match="ALIS_OS_PROJECT"):
        WorkflowsResumer("", "europe-west1", "https://h")


def _tasks_resumer(server: RecordingServer, deadline: float = 30) -> TasksResumer:
    client = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=_channel(server)))
    return TasksResumer(
        QUEUE,
        "resumer@p.iam.gserviceaccount.com",
        "https://svc.run.app",
        tasks_client=client,
        retry=create_retry(deadline),
    )


def _task_bytes(name: str = "t") -> bytes:
    return bytes(tasks_v2.Task.serialize(tasks_v2.Task(name=name)))


def test_tasks_resumer_sends_a_named_put_task(server: RecordingServer) -> None:
    server.answer(CREATE_TASK, _task_bytes())
    due = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    name = _tasks_resumer(server).schedule("operations/o1", "report", due, wake_up="7")
    assert name == f"{QUEUE}/tasks/{task_id('operations/o1', '7')}"
    request = tasks_v2.CreateTaskRequest.deserialize(server.requests[0].body)
    assert request.parent == QUEUE
    task = request.task
    assert task.name == name
    assert task.http_request.http_method == tasks_v2.HttpMethod.PUT
    assert (
        task.http_request.url
        == "https://svc.run.app/operations/report?operation=operations/o1&wakeup=7"
    )
    assert task.http_request.oidc_token.service_account_email == "resumer@p.iam.gserviceaccount.com"
    assert task.http_request.oidc_token.audience == "https://svc.run.app"
    assert task.schedule_time == due
    assert task.dispatch_deadline == datetime.timedelta(minutes=30)


def test_a_task_must_be_bound_to_a_wake_up(server: RecordingServer) -> None:
    record = OperationRecord(operation=operations_pb2.Operation(name="operations/o1"))
    with pytest.raises(lro.FailedPrecondition, match="bound"):
        _tasks_resumer(server).resume_later(HandOver(record, "handler", "h", 0, (), 0, 0, ""))
    assert server.requests == []


def test_task_names_are_idempotent_per_wake_up() -> None:
    assert task_id("operations/a", "1") == task_id("operations/a", "1")
    assert task_id("operations/a", "1") != task_id("operations/a", "2")
    assert task_id("operations/a", "1") != task_id("operations/b", "1")


def test_already_exists_counts_as_scheduled(server: RecordingServer) -> None:
    server.answer(CREATE_TASK, grpc.StatusCode.ALREADY_EXISTS)
    due = datetime.datetime.now(datetime.UTC)
    name = _tasks_resumer(server).schedule("operations/o1", "h", due, wake_up="1")
    assert name.endswith(task_id("operations/o1", "1"))
    assert len(server.requests) == 1


def test_unavailable_is_retried_with_the_same_request(server: RecordingServer) -> None:
    server.answer(
        CREATE_TASK, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE, _task_bytes()
    )
    due = datetime.datetime.now(datetime.UTC)
    _tasks_resumer(server).schedule("operations/o1", "h", due, wake_up="1")
    bodies = [r.body for r in server.requests]
    assert len(bodies) == 3
    assert len(set(bodies)) == 1


def test_permanent_errors_are_not_retried(server: RecordingServer) -> None:
    server.answer(CREATE_TASK, grpc.StatusCode.PERMISSION_DENIED)
    due = datetime.datetime.now(datetime.UTC)
    from google.api_core import exceptions

    with pytest.raises(exceptions.PermissionDenied):
        _tasks_resumer(server).schedule("operations/o1", "h", due, wake_up="1")
    assert len(server.requests) == 1


def test_bad_queue_names_are_refused() -> None:
    with pytest.raises(lro.InvalidArgument):
        TasksResumer("queues/q", "sa@p", "https://h")
