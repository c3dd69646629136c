"""Resuming through Google Cloud Workflows, with the Go package's workflow argument."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from lro._core.errors import InvalidArgument
from lro._core.names import COLLECTION, operation_id
from lro._resume.channels import GET_OPERATION_PATH
from lro._resume.cloud import HandOver, import_cloud
from lro._store.base import TargetKind

WORKFLOW_ID = "alis-managed-operations"


def audience_of(endpoint: str) -> str:
    """``https://{host}`` of an endpoint URL, as the Go package derives audiences."""
    host = urlsplit(endpoint).netloc
    if not host:
        raise InvalidArgument(f"endpoint {endpoint!r} has no host; expected https://host/path")
    return f"https://{host}"


def header_value(name: str) -> str:
    """The ``x-alis-operation-id`` value for ``name``: the id for ``operations/{id}``."""
    return operation_id(name) if name.startswith(f"{COLLECTION}/") else name


def workflow_argument(
    name: str,
    *,
    resume_host: str,
    resume_method: str,
    sleep: float,
    children: Sequence[str],
    poll_frequency: float,
    timeout: float,
    poll_endpoint: str | None = None,
) -> dict[str, Any]:
    """The execution argument the Go package sends, field for field.

    Durations are whole seconds; endpoints are the resume host plus a gRPC method path;
    an audience is ``https://{host}`` of its endpoint (the poll audience only when there
    are children).
    """
    if not resume_host or not resume_method:
        raise InvalidArgument("resuming through Workflows needs resume_host and resume_method")
    resume_endpoint = resume_host.rstrip("/") + resume_method
    poll = poll_endpoint or resume_host.rstrip("/") + GET_OPERATION_PATH
    return {
        "operationId": header_value(name),
        "initialWaitDuration": int(sleep),
        "childOperations": list(children),
        "pollFrequency": int(poll_frequency),
        "pollEndpoint": poll,
        "pollEndpointAudience": audience_of(poll) if children else "",
        "resumeEndpoint": resume_endpoint,
        "resumeEndpointAudience": audience_of(resume_endpoint),
        "timeout": int(timeout),
    }


class WorkflowsResumer:
    """Hands a wait to an execution of the ``alis-managed-operations`` workflow."""

    def __init__(
        self,
        project: str,
        location: str,
        resume_host: str,
        *,
        executions_client: Any = None,
    ) -> None:
        if not project or not location:
            raise InvalidArgument(
                "Workflows needs a project and a location: set ALIS_OS_PROJECT and "
                "ALIS_REGION, or pass project= and location= to lro.Client"
            )
        self.workflow = f"projects/{project}/locations/{location}/workflows/{WORKFLOW_ID}"
        self.resume_host = resume_host
        self._client = executions_client

    def _executions(self) -> Any:
        if self._client is None:
            executions_v1 = import_cloud("google.cloud.workflows.executions_v1")
            self._client = executions_v1.ExecutionsClient()
        return self._client

    def accepts(self, target_kind: TargetKind, children: Sequence[str]) -> bool:
        """Workflows resumes gRPC methods (through ``resume_host``), with or without
        children."""
        return target_kind == "grpc"

    def resume_later(self, hand_over: HandOver) -> str:
        """Start the execution that waits and then calls the method again."""
        return self.hand_over(
            hand_over.record.name,
            hand_over.target,
            sleep=hand_over.sleep,
            children=hand_over.children,
            poll_frequency=hand_over.poll_frequency,
            timeout=hand_over.timeout,
            poll_endpoint=_poll_endpoint(hand_over.child_endpoint),
        )

    def hand_over(
        self,
        name: str,
        resume_method: str,
        *,
        sleep: float,
        children: Sequence[str],
        poll_frequency: float,
        timeout: float,
        poll_endpoint: str | None = None,
    ) -> str:
        """Start the execution that waits, then resumes ``name``; returns its name."""
        execution_type = import_cloud("google.cloud.workflows.executions_v1").Execution
        argument = workflow_argument(
            name,
            resume_host=self.resume_host,
            resume_method=resume_method,
            sleep=sleep,
            children=children,
            poll_frequency=poll_frequency,
            timeout=timeout,
            poll_endpoint=poll_endpoint,
        )
        execution = execution_type(
            argument=json.dumps(argument),
            call_log_level=execution_type.CallLogLevel.LOG_ALL_CALLS,
        )
        created = self._executions().create_execution(parent=self.workflow, execution=execution)
        return str(created.name)


def _poll_endpoint(child_endpoint: str) -> str | None:
    """The GetOperation URL of a child endpoint's address (``host:port`` or
    ``https://host``, as ``lro._resume.channels.operations_endpoint`` gives it); None
    for the default."""
    if not child_endpoint:
        return None
    if "://" not in child_endpoint:
        return f"https://{child_endpoint}{GET_OPERATION_PATH}"
    return child_endpoint.rstrip("/") + GET_OPERATION_PATH
