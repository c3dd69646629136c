"""Module-level helpers, as in the Go package."""

from __future__ import annotations

import contextlib

import google.longrunning.operations_proto_pb2 as operations_pb2

from lro._client import Client
from lro._core.constants import WAIT_OPERATION_TIMEOUT
from lro._core.durations import Duration, seconds
from lro._core.names import validate_name
from lro._drive import drive
from lro._runtime import HasRuntime
from lro._wait import OperationsService, operation_done


def wait_operation(
    name: str,
    service: OperationsService | HasRuntime | None = None,
    timeout: Duration = WAIT_OPERATION_TIMEOUT,
) -> operations_pb2.Operation:
    """Wait until operation ``name`` is done and return it.

    Args:
        name: the operation's name.
        service: where it lives: an ``lro.Client`` (woken by its notifications), or
            anything with ``GetOperation(request)`` (polled with backoff, at most
            every 0.777 s as in Go). None opens the default store for the call.
        timeout: seconds before WaitDeadlineExceeded.
    """
    validate_name(name)
    limit = seconds(timeout, "timeout")
    with contextlib.ExitStack() as stack:
        if service is None:
            service = stack.enter_context(Client())
        return drive(*operation_done(name, service, limit))
