"""Durable waits handed to Cloud Workflows and Cloud Tasks, checked at the wire, and the
resume endpoint that Cloud Tasks calls, on a real HTTP server: duplicate, early, stale,
misdirected and concurrent deliveries, and authentication that never holds the
Operations routes."""

from __future__ import annotations

import functools
import json
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

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
from lro._resume import endpoint
from lro._resume.tasks import TasksResumer
from lro._resume.workflows import WorkflowsResumer, workflow_argument
from lro._store.base import now_us
from lro.serving import http_app
from tests.durable.conftest import eventually
from tests.races import at_once
from tests.recording_server import RecordingServer
from tests.resume.oidc import AUDIENCE, CertServer, signed_token
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


class TasksSetup:
    """A client resuming through Cloud Tasks (recorded at the wire), its resume endpoint
    under uvicorn, and the log of handler runs: (operation, resume point, state)."""

    def __init__(self, store_url: str, recorder: RecordingServer) -> None:
        self.recorder = recorder
        self.runs: list[tuple[str, str, dict[str, Any]]] = []
        self.holds: dict[str, threading.Event] = {}
        self.client = lro.Client(store_url, worker=False, resumer=_tasks(recorder))
        self._register_handlers()
        auth = lro.SharedSecretAuthenticator(SECRET)
        self.server = UvicornThread(http_app(self.client, resume_auth=auth, max_attempts=3))
        self.url = self.server.url

    def _register_handlers(self) -> None:
        @self.client.resumable("report", state_type=dict)
        def report(op: lro.Operation[dict[str, Any]]) -> None:
            self.runs.append((op.name, op.resume_point, dict(op.state)))
            hold = self.holds.get(op.name)
            if hold is not None:
                assert hold.wait(30)
            if op.state.get("fail_times", 0) > op.attempts:
                raise lro.Unavailable("downstream is down")
            if op.resume_point == "":
                op.state = {**op.state, "rows": 42}
                op.wait(sleep=op.state.get("sleep", 60), resume_at="after-sleep")
                return
            op.done(wrappers_pb2.Int32Value(value=op.state["rows"]))

        @self.client.resumable("other")
        def other(op: lro.Operation[Any]) -> None:
            self.runs.append((op.name, "other", {}))

    def runs_of(self, name: str) -> list[tuple[str, str, dict[str, Any]]]:
        return [run for run in self.runs if run[0] == name]

    def tasks(self, name: str) -> list[Any]:
        """The tasks created for operation ``name``, in order."""
        found = []
        for request in self.recorder.requests:
            if request.method == CREATE_TASK:
                task = tasks_v2.CreateTaskRequest.deserialize(request.body).task
                query = parse_qs(urlsplit(task.http_request.url).query)
                if query["operation"] == [name]:
                    found.append(task)
        return found

    def dispatch(self, task: Any, secret: str = SECRET, handler: str = "") -> Any:
        """Do what Cloud Tasks does with ``task``: call its URL (on ``handler`` if given)."""
        target = urlsplit(task.http_request.url)
        assert f"{target.scheme}://{target.netloc}" == RESUME_HOST
        path = f"/operations/{handler}" if handler else target.path
        return requests.put(
            f"{self.url}{path}?{target.query}",
            headers={"Authorization": f"Bearer {secret}"},
            timeout=30,
        )

    def put(self, query: str, handler: str = "report") -> Any:
        return requests.put(
            f"{self.url}/operations/{handler}?{query}",
            headers={"Authorization": f"Bearer {SECRET}"},
            timeout=30,
        )

    def close(self) -> None:
        self.server.stop()
        self.client.close()


@pytest.fixture
def tasks_setup(store_url: str, recorder: RecordingServer) -> Iterator[TasksSetup]:
    """A Cloud Tasks setup on each backend."""
    setup = TasksSetup(store_url, recorder)
    yield setup
    setup.close()


def _outcome(answer: Any) -> str:
    assert answer.status_code == 200, answer.text
    return str(answer.json()["outcome"])


def _outcome_or_retry(answer: Any) -> str:
    """The outcome of a delivery, or "retry" when it was told to try again (409)."""
    assert not isinstance(answer, BaseException), answer
    return "retry" if answer.status_code == 409 else _outcome(answer)


def _dispatch_when_due(setup: TasksSetup, task: Any, timeout: float = 30) -> Any:
    """Deliver ``task`` again while it is answered 503 (not due yet), as Cloud Tasks does."""
    deadline = time.monotonic() + timeout
    while True:
        answer = setup.dispatch(task)
        if answer.status_code != 503 or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def test_start_and_sleep_go_through_cloud_tasks(tasks_setup: TasksSetup) -> None:
    setup = tasks_setup
    op = setup.client.start("report", state={"sleep": 0.3})
    (first,) = setup.tasks(op.name)
    token = parse_qs(urlsplit(first.http_request.url).query)["wakeup"][0]
    wakeup = setup.client.store.get_wakeup(op.name)  # type: ignore[attr-defined]
    assert (wakeup.target, wakeup.pinned_to) == ("report", f"task:{token}")
    assert _outcome(setup.dispatch(first)) == "resumed"
    assert setup.runs_of(op.name) == [(op.name, "", {"sleep": 0.3})]
    first_again, second = setup.tasks(op.name)
    assert first_again == first
    assert second.name != first.name  # one task per wake-up
    assert _outcome(_dispatch_when_due(setup, second)) == "resumed"
    assert setup.runs_of(op.name)[-1] == (op.name, "after-sleep", {"sleep": 0.3, "rows": 42})
    assert setup.client.get_operation(op.name).done
    for repeated in (second, first):  # tasks delivered again after the end
        answer = setup.dispatch(repeated)
        assert _outcome(answer) == "ignored"
        assert answer.json()["reason"] == "the operation is not waiting"
    assert len(setup.runs_of(op.name)) == 2


def test_a_delayed_start_of_a_request_id_makes_one_task_due_after_the_delay(
    tasks_setup: TasksSetup,
) -> None:
    setup = tasks_setup
    before = time.time()
    op = setup.client.start("report", state={}, request_id="r-1", delay=60)
    assert setup.client.start("report", state={}, request_id="r-1", delay=60).name == op.name
    (task,) = setup.tasks(op.name)  # the retried start made no second task
    assert task.schedule_time.timestamp() >= before + 60
    early = setup.dispatch(task)  # delivered before it is due
    assert early.status_code == 503
    assert "not due" in early.json()["error"]["message"]
    assert setup.runs_of(op.name) == []


def test_a_duplicate_before_due_does_nothing(tasks_setup: TasksSetup) -> None:
    setup = tasks_setup
    op = setup.client.start("report", state={})
    (first,) = setup.tasks(op.name)
    assert _outcome(setup.dispatch(first)) == "resumed"
    duplicate = setup.dispatch(first)  # the first task again, while the 60 s sleep runs
    assert _outcome(duplicate) == "ignored"
    assert duplicate.json()["reason"] == "the operation waits for another task"
    _, second = setup.tasks(op.name)
    assert second.schedule_time.timestamp() - first.schedule_time.timestamp() >= 59
    early = setup.dispatch(second)  # the right task, before it is due
    assert early.status_code == 503
    assert "not due" in early.json()["error"]["message"]
    assert len(setup.runs_of(op.name)) == 1
    record = setup.client.store.get(op.name)
    assert (record.done, record.resume_point) == (False, "after-sleep")


def test_a_stale_task_does_not_run_the_next_wakeup_when_it_is_due(
    tasks_setup: TasksSetup,
) -> None:
    setup = tasks_setup
    op = setup.client.start("report", state={"sleep": 0.2})
    (first,) = setup.tasks(op.name)
    assert _outcome(setup.dispatch(first)) == "resumed"
    wakeup = setup.client.store.get_wakeup(op.name)  # type: ignore[attr-defined]
    while now_us() < wakeup.due_time_us + 200_000:  # the next wake-up is due
        time.sleep(0.05)
    stale = setup.dispatch(first)
    assert _outcome(stale) == "ignored"
    assert stale.json()["reason"] == "the operation waits for another task"
    assert [point for _, point, _ in setup.runs_of(op.name)] == [""]
    _, second = setup.tasks(op.name)
    assert _outcome(setup.dispatch(second)) == "resumed"
    assert [point for _, point, _ in setup.runs_of(op.name)] == ["", "after-sleep"]


def test_an_operation_that_is_not_waiting_is_acknowledged(tasks_setup: TasksSetup) -> None:
    setup = tasks_setup
    started = setup.client.start("report", state={})
    token = parse_qs(urlsplit(setup.tasks(started.name)[0].http_request.url).query)["wakeup"]
    idle = setup.client.new_operation()
    for query in (
        f"operation={idle.name}&wakeup={token[0]}",
        f"operation={idle.name}",
        "operation=operations/no-such-operation&wakeup=abc",
    ):
        answer = setup.put(query)
        assert _outcome(answer) == "ignored"
        assert answer.json()["reason"] == "the operation is not waiting"
    no_token = setup.put(f"operation={started.name}")
    assert _outcome(no_token) == "ignored"
    assert setup.runs == []
    assert not setup.client.get_operation(idle.name).done


def test_the_wrong_handler_runs_nothing(tasks_setup: TasksSetup) -> None:
    setup = tasks_setup
    op = setup.client.start("report", state={})
    (task,) = setup.tasks(op.name)
    answer = setup.dispatch(task, handler="other")
    assert _outcome(answer) == "ignored"
    assert answer.json()["reason"] == "the operation does not wait for handler 'other'"
    assert setup.runs == []
    assert _outcome(setup.dispatch(task)) == "resumed"  # the wake-up is still there
    assert [point for _, point, _ in setup.runs] == [""]


def test_a_delivery_while_another_runs_is_told_to_try_again(tasks_setup: TasksSetup) -> None:
    setup = tasks_setup
    op = setup.client.start("report", state={})
    setup.holds[op.name] = threading.Event()
    (task,) = setup.tasks(op.name)
    answers: queue.Queue[Any] = queue.Queue()

    def deliver() -> None:
        answers.put(setup.dispatch(task))
        setup.holds[op.name].set()  # the first answer releases the held handler

    results = at_once(2, deliver)
    assert results == [None, None]
    first, second = answers.get_nowait(), answers.get_nowait()
    assert first.status_code == 409  # the handler of the other delivery was still held
    assert first.json()["error"]["status"] == "ABORTED"
    assert _outcome(second) == "resumed"
    assert len(setup.runs_of(op.name)) == 1
    assert _outcome(setup.dispatch(task)) == "ignored"  # Cloud Tasks' retry of the 409


def test_the_lease_is_kept_while_the_handler_runs(
    tasks_setup: TasksSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(endpoint, "LEASE_SECONDS", 2.0)
    setup = tasks_setup
    op = setup.client.start("report", state={})
    setup.holds[op.name] = threading.Event()
    (task,) = setup.tasks(op.name)
    answers: queue.Queue[Any] = queue.Queue()
    first = threading.Thread(target=lambda: answers.put(setup.dispatch(task)))
    first.start()
    assert eventually(lambda: len(setup.runs_of(op.name)) == 1)
    store = setup.client.store
    claimed_until = store.get_wakeup(op.name).lease_expires_us  # type: ignore[attr-defined]

    def renewed_past_the_first_lease() -> bool:
        held_until = store.get_wakeup(op.name).lease_expires_us  # type: ignore[attr-defined]
        return bool(now_us() > claimed_until and held_until > now_us())

    try:
        assert eventually(renewed_past_the_first_lease, timeout=30)
        assert setup.dispatch(task).status_code == 409  # still held: no second run
    finally:
        setup.holds[op.name].set()
        first.join(30)
    assert _outcome(answers.get_nowait()) == "resumed"
    assert len(setup.runs_of(op.name)) == 1


def test_two_concurrent_deliveries_run_the_handler_once(tasks_setup: TasksSetup) -> None:
    setup = tasks_setup
    for _ in range(6):
        op = setup.client.start("report", state={})
        (task,) = setup.tasks(op.name)
        answers = at_once(2, functools.partial(setup.dispatch, task))
        outcomes = sorted(_outcome_or_retry(answer) for answer in answers)
        assert outcomes in (["ignored", "resumed"], ["resumed", "retry"])
        assert len(setup.runs_of(op.name)) == 1


def test_failures_are_retried_by_cloud_tasks_then_end_the_operation(
    tasks_setup: TasksSetup,
) -> None:
    setup = tasks_setup
    flaky = setup.client.start("report", state={"fail_times": 1})
    (task,) = setup.tasks(flaky.name)
    assert setup.dispatch(task).status_code == 503
    assert setup.client.store.get(flaky.name).attempts == 1
    assert _outcome(setup.dispatch(task)) == "resumed"
    broken = setup.client.start("report", state={"fail_times": 99})
    (task,) = setup.tasks(broken.name)
    statuses = [setup.dispatch(task).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    final = setup.client.get_operation(broken.name)
    assert final.done
    assert final.error.code == code_pb2.UNAVAILABLE
    record = setup.client.store.get(broken.name)
    assert (record.attempts, record.last_error) == (3, "UNAVAILABLE: downstream is down")
    assert _outcome(setup.dispatch(task)) == "ignored"


def test_a_task_that_cannot_be_created_ends_start_and_saves_nothing_in_a_wait(
    tasks_setup: TasksSetup,
) -> None:
    setup = tasks_setup
    setup.recorder.answer(CREATE_TASK, grpc.StatusCode.PERMISSION_DENIED)
    with pytest.raises(lro.PermissionDenied):
        setup.client.start("report", state={})
    (ended,), _ = setup.client.list_operations()  # nothing would run it: it ended
    assert (ended.done, ended.error.code) == (True, code_pb2.PERMISSION_DENIED)
    assert setup.client.store.get_wakeup(ended.name) is None  # type: ignore[attr-defined]
    op = setup.client.start("report", state={})
    (task,) = setup.tasks(op.name)
    setup.recorder.answer(CREATE_TASK, grpc.StatusCode.PERMISSION_DENIED)
    failed = setup.dispatch(task)  # the handler's wait cannot create its task
    assert failed.status_code == 403
    record = setup.client.store.get(op.name)
    assert (record.resume_point, record.attempts) == ("", 1)
    assert _outcome(setup.dispatch(task)) == "resumed"  # Cloud Tasks tries again
    assert setup.client.store.get(op.name).resume_point == "after-sleep"


def test_bound_wakeups_are_left_to_their_tasks(tasks_setup: TasksSetup) -> None:
    setup = tasks_setup
    op = setup.client.start("report", state={})
    store = setup.client.store
    claimed = store.claim_wakeups(  # type: ignore[attr-defined]
        "w", lease_us=10**7, limit=10, handlers=["report"], pinned_to=setup.client.instance_id
    )
    assert claimed == []
    assert store.get_wakeup(op.name).pinned_to.startswith("task:")  # type: ignore[attr-defined]


def test_the_resume_endpoint_refuses_strangers(tasks_setup: TasksSetup) -> None:
    setup = tasks_setup
    op = setup.client.start("report", state={})
    (task,) = setup.tasks(op.name)
    assert setup.dispatch(task, secret="x" * 32).status_code == 401  # a bad credential
    url = f"{setup.url}/operations/report?operation=operations/x"
    assert requests.put(url, timeout=10).status_code == 401
    assert setup.put("operation=operations/x", handler="nobody").status_code == 404
    assert setup.put("operation=bad&wakeup=abc").status_code == 400
    assert setup.put("wakeup=abc").status_code == 400
    assert setup.runs == []


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


def test_authentication_never_holds_the_operations_routes(tmp_path: Path) -> None:
    client = lro.Client(f"sqlite:///{tmp_path}/lro.db", worker=False)
    client.resumable("report")(lambda op: None)
    op = client.new_operation()
    put_url = f"/operations/report?operation={op.name}&wakeup=abc"

    def calls(token: str, count: int = 12) -> list[threading.Thread]:
        def put() -> None:
            headers = {"Authorization": f"Bearer {token}"}
            answer = requests.put(server.url + put_url, headers=headers, timeout=120)
            answers.put(answer.status_code)

        threads = [threading.Thread(target=put) for _ in range(count)]
        for thread in threads:
            thread.start()
        return threads

    answers: queue.Queue[int] = queue.Queue()
    with CertServer(held=True) as certs:
        auth = lro.OidcAuthenticator(AUDIENCE, certs_url=certs.url, certs_timeout=90)
        server = UvicornThread(http_app(client, resume_auth=auth))
        try:
            garbage = [answers.get(timeout=60) for _ in calls("x")]
            assert (garbage, certs.requests) == ([401] * 12, 0)  # refused before any fetch
            signed = calls(signed_token())
            certs.wait_for_requests(1)  # the verifications wait for the held certificates
            read = requests.get(f"{server.url}/v1/{op.name}", timeout=30)  # generous
            assert (read.status_code, read.json()["name"]) == (200, op.name)
            assert certs.answered == 0  # answered while the certificate fetch hangs
            certs.release()
            for thread in signed:
                thread.join(120)
        finally:
            server.stop()
            client.close()
    assert [answers.get_nowait() for _ in range(12)] == [200] * 12
    assert certs.requests == 1  # one fetch for all, kept for its max-age
