"""Resuming through Google Cloud Tasks: one named HTTP task per wake-up."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry

from lro._core.errors import FailedPrecondition, InvalidArgument
from lro._resume.alis_env import queue_in_cloud_tasks_location, tasks_settings
from lro._resume.cloud import HandOver, due_time, import_cloud
from lro._resume.workflows import audience_of
from lro._store.base import TargetKind

RESUME_PATH = "/operations/"
DISPATCH_DEADLINE = datetime.timedelta(minutes=30)
TRANSIENT = (
    api_exceptions.ServiceUnavailable,
    api_exceptions.DeadlineExceeded,
    api_exceptions.InternalServerError,
    api_exceptions.ResourceExhausted,
    api_exceptions.Aborted,
)


def create_retry(deadline: float = 30.0) -> api_retry.Retry:
    """Retries of CreateTask on transient codes: 0.1 s, doubling, at most 5 s apart."""
    return api_retry.Retry(
        predicate=api_retry.if_exception_type(*TRANSIENT),
        initial=0.1,
        multiplier=2.0,
        maximum=5.0,
        timeout=deadline,
    )


def task_id(name: str, wake_up: str) -> str:
    """A task id that is the same for the same wake-up of the same operation.

    ``wake_up`` is the token of the wake-up the task is bound to. Cloud Tasks refuses a
    second task with a name it has seen, so creating the task again (a retry of
    CreateTask) makes one task. A hash spreads the names, as Cloud Tasks advises.
    """
    digest = hashlib.sha256(f"{name}\n{wake_up}".encode()).hexdigest()
    return f"lro-{digest[:40]}"


def resume_url(resume_host: str, handler: str, name: str, wake_up: str) -> str:
    """The URL a task calls:
    ``PUT {host}/operations/{handler}?operation={name}&wakeup={token}``."""
    path = RESUME_PATH + quote(handler, safe="")
    query = urlencode({"operation": name, "wakeup": wake_up}, safe="/")
    return f"{resume_host.rstrip('/')}{path}?{query}"


class TasksResumer:
    """Schedules the resumption of an operation as an HTTP task with an OIDC token."""

    def __init__(
        self,
        queue: str,
        service_account_email: str,
        resume_host: str,
        *,
        tasks_client: Any = None,
        retry: api_retry.Retry | None = None,
    ) -> None:
        if not queue.count("/") == 5 or not queue.startswith("projects/"):
            raise InvalidArgument(f"queue must be projects/P/locations/L/queues/Q, got {queue!r}")
        self.queue = queue_in_cloud_tasks_location(queue)
        self.service_account_email = service_account_email
        self.resume_host = resume_host
        self.audience = audience_of(resume_host)
        self._client = tasks_client
        self._retry = retry or create_retry()

    @classmethod
    def from_env(
        cls,
        neuron: str,
        *,
        host: str | None = None,
        tasks_client: Any = None,
        retry: api_retry.Retry | None = None,
    ) -> TasksResumer:
        """The resumer that Go v2's ``NewFromEnv(ctx, neuron)`` sets up, from the same
        variables (``ALIS_OS_PROJECT``, ``ALIS_REGION``, ``ALIS_PROJECT_NR``); ``host``
        replaces the Cloud Run host, as ``WithHost`` does. See ``alis_env.tasks_settings``.
        """
        settings = tasks_settings(neuron, host=host)
        return cls(
            settings.queue,
            settings.service_account_email,
            settings.resume_host,
            tasks_client=tasks_client,
            retry=retry,
        )

    def _tasks(self) -> Any:
        if self._client is None:
            self._client = import_cloud("google.cloud.tasks_v2").CloudTasksClient()
        return self._client

    def accepts(self, target_kind: TargetKind, children: Sequence[str]) -> bool:
        """Cloud Tasks resumes registered handlers after a sleep (no children)."""
        return target_kind == "handler" and not children

    def resume_later(self, hand_over: HandOver) -> str:
        """Create the task bound to the wake-up whose token is ``hand_over.binding``."""
        if not hand_over.binding:
            raise FailedPrecondition("a task must be bound to a wake-up (lro._resume.binding)")
        due = due_time(hand_over.sleep)
        return self.schedule(hand_over.record.name, hand_over.target, due, hand_over.binding)

    def schedule(self, name: str, handler: str, due: datetime.datetime, wake_up: str) -> str:
        """Create the task that resumes ``name`` at ``due``, bound to the wake-up whose
        token is ``wake_up``; returns the task's name.

        A task of that name existing already counts as success (it was scheduled by an
        earlier attempt); transient errors are retried.
        """
        tasks_v2 = import_cloud("google.cloud.tasks_v2")
        from google.protobuf import duration_pb2, timestamp_pb2

        schedule_time = timestamp_pb2.Timestamp()
        schedule_time.FromDatetime(due.astimezone(datetime.UTC))
        deadline = duration_pb2.Duration()
        deadline.FromTimedelta(DISPATCH_DEADLINE)
        task = tasks_v2.Task(
            name=f"{self.queue}/tasks/{task_id(name, wake_up)}",
            http_request=tasks_v2.HttpRequest(
                url=resume_url(self.resume_host, handler, name, wake_up),
                http_method=tasks_v2.HttpMethod.PUT,
                oidc_token=tasks_v2.OidcToken(
                    service_account_email=self.service_account_email, audience=self.audience
                ),
            ),
            schedule_time=schedule_time,
            dispatch_deadline=deadline,
        )
        # A task of that name exists: an earlier attempt scheduled this wake-up.
        with contextlib.suppress(api_exceptions.AlreadyExists):
            try:
                self._tasks().create_task(parent=self.queue, task=task, retry=self._retry)
            except api_exceptions.RetryError as exc:  # transient errors until the deadline
                if exc.cause is None:
                    raise
                raise exc.cause from exc
        return str(task.name)
