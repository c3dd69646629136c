"""Module-level helpers, as in the Go package."""

from __future__ import annotations

import contextlib

import google.longrunning.operations_proto_pb2 as operations_pb2

from lro._client import Client
from lro._core.constants import WAIT_OPERATION_POLL, WAIT_OPERATION_TIMEOUT
from lro._core.durations import Duration, seconds
from lro._core.names import validate_name
from lro._runtime import HasRuntime
from lro._wait import OperationsService, wait_in_store, wait_on_service


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
        if isinstance(service, HasRuntime):
            runtime = service.runtime
            found = wait_in_store(
                runtime.store,
                [name],
                timeout=limit,
                recheck_every=WAIT_OPERATION_POLL,
                clock=runtime.clock,
            )
        else:
            found = wait_on_service(
                service, [name], timeout=limit, poll_frequency=WAIT_OPERATION_POLL
            )
    return found[name]
