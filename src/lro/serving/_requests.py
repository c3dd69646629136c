"""What the gRPC and HTTP front ends share: request checks and waiting."""

from __future__ import annotations

import google.longrunning.operations_proto_pb2 as operations_pb2

from lro._client import Client
from lro._core.errors import InvalidArgument
from lro.aio import Client as AsyncClient

DEFAULT_MAX_WAIT = 600.0
RECHECK_EVERY = 1.0
# Answer this share of the caller's time before its deadline (at most DEADLINE_MARGIN s),
# so that the last read and the answer arrive in time on a busy server.
DEADLINE_SHARE = 0.25
DEADLINE_MARGIN = 1.0


def wait_seconds(
    request: operations_pb2.WaitOperationRequest, time_remaining: float | None, max_wait: float
) -> float:
    """How long WaitOperation waits: the shorter of ``timeout`` and the RPC deadline.

    Without either, ``max_wait``. A negative timeout is INVALID_ARGUMENT.
    """
    limit = max_wait
    if request.HasField("timeout"):
        timeout = request.timeout
        if timeout.seconds < 0 or timeout.nanos < 0:
            raise InvalidArgument("timeout must not be negative")
        limit = min(limit, timeout.seconds + timeout.nanos / 1e9)
    if time_remaining is not None:
        margin = min(DEADLINE_MARGIN, time_remaining * DEADLINE_SHARE)
        limit = min(limit, time_remaining - margin)
    return max(limit, 0.0)


def list_response(
    client: Client, request: operations_pb2.ListOperationsRequest
) -> operations_pb2.ListOperationsResponse:
    """ListOperations on ``client``."""
    operations, next_token = client.list_operations(
        request.filter, request.page_size, request.page_token, name=request.name
    )
    return operations_pb2.ListOperationsResponse(operations=operations, next_page_token=next_token)


async def list_async(
    client: AsyncClient, request: operations_pb2.ListOperationsRequest
) -> operations_pb2.ListOperationsResponse:
    """ListOperations on the asyncio face."""
    operations, next_token = await client.list_operations(
        request.filter, request.page_size, request.page_token, name=request.name
    )
    return operations_pb2.ListOperationsResponse(operations=operations, next_page_token=next_token)


async def latest_async(client: AsyncClient, name: str, timeout: float) -> operations_pb2.Operation:
    """WaitOperation on the asyncio face: the operation once done, or its latest state
    after ``timeout`` seconds; rides out an outage of the store that ends in time.

    Woken by the store's change notifications without holding a thread while it waits;
    rechecks every second for changes made by other processes.
    """
    return await client._wait_latest(name, timeout, RECHECK_EVERY)
