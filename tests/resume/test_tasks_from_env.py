"""``TasksResumer.from_env``: Go v2's ``NewFromEnv`` set-up, checked at the wire."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import grpc
import pytest
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

import lro
from lro._resume import alis_env
from lro._resume.tasks import TasksResumer, task_id
from tests.recording_server import RecordingServer

CREATE_TASK = "/google.cloud.tasks.v2.CloudTasks/CreateTask"
DUE = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer(default=bytes(tasks_v2.Task.serialize(tasks_v2.Task(name="t")))) as server:
        yield server


@pytest.fixture
def alis_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("ALIS_OS_PROJECT", "acme-prod")
    monkeypatch.setenv("ALIS_REGION", "africa-south1")
    monkeypatch.setenv("ALIS_PROJECT_NR", "123456789")
    return monkeypatch


def _tasks_client(server: RecordingServer) -> tasks_v2.CloudTasksClient:
    channel = grpc.insecure_channel(server.address)
    return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))


def _sent(server: RecordingServer) -> tasks_v2.CreateTaskRequest:
    assert [request.method for request in server.requests] == [CREATE_TASK]
    request: tasks_v2.CreateTaskRequest = tasks_v2.CreateTaskRequest.deserialize(
        server.requests[0].body
    )
    return request


def test_a_region_without_cloud_tasks_sends_to_its_fallback_queue(
    server: RecordingServer, alis_environment: pytest.MonkeyPatch
) -> None:
    resumer = TasksResumer.from_env("launchpad-v1", tasks_client=_tasks_client(server))
    resumer.schedule("operations/o1", "report", DUE, wake_up="3")
    request = _sent(server)
    queue = "projects/acme-prod/locations/europe-west1/queues/launchpad-v1-operations"
    assert request.parent == queue
    assert request.task.name == f"{queue}/tasks/{task_id('operations/o1', '3')}"
    # The service itself stays in its region: only the queue moves.
    host = "https://launchpad-v1-123456789.africa-south1.run.app"
    assert request.task.http_request.url == (
        f"{host}/operations/report?operation=operations/o1&wakeup=3"
    )
    token = request.task.http_request.oidc_token
    assert token.service_account_email == "alis-build@acme-prod.iam.gserviceaccount.com"
    assert token.audience == host


def test_a_supported_region_keeps_its_queue_and_host_replaces_cloud_run(
    server: RecordingServer, alis_environment: pytest.MonkeyPatch
) -> None:
    alis_environment.setenv("ALIS_REGION", "europe-west2")
    alis_environment.delenv("ALIS_PROJECT_NR")  # not needed with a host of one's own
    resumer = TasksResumer.from_env(
        "svc", host="https://svc.example.com", tasks_client=_tasks_client(server)
    )
    resumer.schedule("operations/o2", "h", DUE, wake_up="1")
    request = _sent(server)
    assert request.parent == "projects/acme-prod/locations/europe-west2/queues/svc-operations"
    assert request.task.http_request.url.startswith("https://svc.example.com/operations/h?")


def test_an_explicit_queue_in_a_region_without_cloud_tasks_moves_to_the_fallback(
    server: RecordingServer,
) -> None:
    resumer = TasksResumer(
        "projects/p/locations/africa-south1/queues/q",
        "sa@p.iam.gserviceaccount.com",
        "https://h",
        tasks_client=_tasks_client(server),
    )
    resumer.schedule("operations/o3", "h", DUE, wake_up="1")
    assert _sent(server).parent == "projects/p/locations/europe-west1/queues/q"


@pytest.mark.parametrize("missing", ["ALIS_OS_PROJECT", "ALIS_REGION", "ALIS_PROJECT_NR"])
def test_a_missing_variable_is_named(alis_environment: pytest.MonkeyPatch, missing: str) -> None:
    alis_environment.delenv(missing)
    with pytest.raises(lro.InvalidArgument, match=f"{missing} is not set"):
        TasksResumer.from_env("svc")


def test_a_region_without_cloud_tasks_or_fallback_is_refused(
    alis_environment: pytest.MonkeyPatch,
) -> None:
    alis_environment.setenv("ALIS_REGION", "mars-north1")
    with pytest.raises(lro.InvalidArgument, match="'mars-north1' is not a supported") as caught:
        TasksResumer.from_env("svc")
    assert "europe-west1" in str(caught.value)
    with pytest.raises(lro.InvalidArgument, match="neuron"):
        TasksResumer.from_env("")


def test_the_location_table_is_go_v2s() -> None:
    assert alis_env.cloud_tasks_location("africa-south1") == "europe-west1"
    assert alis_env.cloud_tasks_location("us-central1") == "us-central1"
    assert len(alis_env.SUPPORTED_LOCATIONS) == 23
    assert set(alis_env.FALLBACK_LOCATIONS.values()) <= alis_env.SUPPORTED_LOCATIONS
    assert not set(alis_env.FALLBACK_LOCATIONS) & alis_env.SUPPORTED_LOCATIONS
