"""What the gRPC and HTTP front ends share: request checks and waiting."""

from __future__ import annotations

import asyncio
import contextlib

import google.longrunning.operations_proto_pb2 as operations_pb2

from lro._client import Client
from lro._core.errors import InvalidArgument, Unavailable
from lro._store.base import Store
from lro._wait import next_pause, read_through_outage

DEFAULT_MAX_WAIT = 600.0
RECHECK_EVERY = 1.0
# Answer this long before the caller's deadline, so the answer arrives in time.
DEADLINE_MARGIN = 0.2


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
        margin = min(DEADLINE_MARGIN, time_remaining / 10)
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


async def latest_async(store: Store, name: str, timeout: float) -> operations_pb2.Operation:
    """The operation once done, or its latest state after ``timeout`` seconds.

    Woken by the store's change notifications without holding a thread while it waits;
    rechecks every second for changes made by other processes. Like the sync wait, it
    rides out an outage of the store that ends before its deadline.
    """
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()
    deadline = loop.time() + timeout

    def wake(_name: str) -> None:
        # The loop may close between a publisher's lookup and this call.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(changed.set)

    with store.changes.subscribe([name], wake):
        latest = (await asyncio.to_thread(store.get, name)).operation
        outage: Unavailable | None = None
        while (
            pause := next_pause(latest, outage, deadline - loop.time(), RECHECK_EVERY)
        ) is not None:
            try:
                await asyncio.wait_for(changed.wait(), pause)
            except TimeoutError:
                if outage is None and loop.time() >= deadline:
                    break  # nothing changed until the deadline: answer now, without a read
            changed.clear()  # before the read: a change during it wakes the next pause
            record, outage = await asyncio.to_thread(read_through_outage, store.get, name)
            if record is not None:
                latest = record.operation
        return latest
