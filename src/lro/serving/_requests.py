"""What the gRPC and HTTP front ends share: request checks and waiting."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import google.longrunning.operations_proto_pb2 as operations_pb2

from lro._client import Client
from lro._core.errors import InvalidArgument
from lro.aio import Client as AsyncClient

Operation = operations_pb2.Operation

DEFAULT_MAX_WAIT = 600.0
RECHECK_EVERY = 1.0
# Answer this share of the caller's time before its deadline (at most DEADLINE_MARGIN s),
# so that the last read and the answer arrive in time on a busy server.
DEADLINE_SHARE = 0.25
DEADLINE_MARGIN = 1.0


class Waits:
    """The waits in flight, and how many may be (``limit``; None: no bound).

    A wait past the bound answers the operation's latest state at once, as AIP-151
    allows: on a thread pool, waits that each hold a thread would otherwise starve the
    reads.
    """

    def __init__(self, limit: int | None = None) -> None:
        if limit is not None and limit < 0:
            raise InvalidArgument(f"max_waits must not be negative, got {limit}")
        self.limit = limit
        self.in_flight = 0
        self._lock = threading.Lock()
        self._ended: asyncio.Event | None = None  # made on the loop of the first wait
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ending_now = False

    def _ending(self) -> asyncio.Event:
        with self._lock:
            if self._ended is None:
                self._ended, self._loop = asyncio.Event(), asyncio.get_running_loop()
                if self._ending_now:
                    self._ended.set()
            return self._ended

    def end(self) -> None:
        """Answer the asyncio waits in flight, and every later one, with the latest
        state at once (a server that stops); from any thread."""
        with self._lock:
            self._ending_now = True
            ended, loop = self._ended, self._loop
        if ended is not None and loop is not None:
            with contextlib.suppress(RuntimeError):  # its loop has closed: no wait is left
                loop.call_soon_threadsafe(ended.set)

    async def latest(self, client: AsyncClient, name: str, timeout: float) -> Operation:
        """``latest_async``, answered with the latest state at once after ``end``."""
        ending = self._ending()
        waiting = asyncio.ensure_future(
            latest_async(client, name, 0.0 if ending.is_set() else timeout)
        )
        ended = asyncio.ensure_future(ending.wait())
        try:
            await asyncio.wait((waiting, ended), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiting, ended):
                task.cancel()
            await asyncio.gather(waiting, ended, return_exceptions=True)
        if not waiting.cancelled():
            return waiting.result()
        return await client.get_operation(name)

    @contextlib.contextmanager
    def admitted(self) -> Iterator[bool]:
        """Count one wait while the block runs; yields False (and does not count it)
        when ``limit`` waits are already in flight."""
        with self._lock:
            admitted = self.limit is None or self.in_flight < self.limit
            self.in_flight += admitted
        try:
            yield admitted
        finally:
            if admitted:
                with self._lock:
                    self.in_flight -= 1


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
