"""``lro.aio.Client``: the asyncio face of ``lro.Client``."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar, overload

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.protobuf.message import Message

from lro import _telemetry as telemetry
from lro._calls import current_call
from lro._client_base import (
    ClientBase,
    chosen_of,
    continued_operation,
    name_of,
    starting_of,
)
from lro._core.codecs import codec_for
from lro._core.durations import Duration
from lro._core.errors import FailedPrecondition, InvalidArgument
from lro._runtime import Resumable
from lro._unmarshal import unmarshal_operation
from lro.aio._drive import drive_async
from lro.aio._gets import MergedGets
from lro.aio._operation import Operation, run_on_loop

T = TypeVar("T")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Awaitable[object]])
STORE_THREADS = 16


class Client(ClientBase):
    """Creates, reads and waits for operations kept in one store, for asyncio.

    The same arguments and names as ``lro.Client``, as coroutines. Constructing it does
    no I/O; ``async with lro.aio.Client(url) as client:`` (or ``await client.open()``)
    opens the store on the running loop, and ``await client.close()`` closes it. Store
    calls run in a thread pool of at most 16 threads; waits hold no thread. Handlers
    registered with ``@client.resumable`` are ``async def`` and run on the loop that
    opened the client.
    """

    _pool: ThreadPoolExecutor | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _gets: MergedGets | None = None

    @property
    def _executor(self) -> ThreadPoolExecutor:
        """The client's thread pool for store calls, made on first use."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(STORE_THREADS, thread_name_prefix="lro-aio")
        return self._pool

    def _client_loop(self) -> asyncio.AbstractEventLoop:
        """The loop that handlers run on: the one that opened or first used the client."""
        if self._loop is None:
            raise FailedPrecondition("open the lro.aio.Client on a running event loop first")
        return self._loop

    async def _blocking(self, function: Callable[..., R], *args: Any) -> R:
        """``function(*args)`` in the client's thread pool, in this task's context
        (the served call, the current trace)."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        call = functools.partial(contextvars.copy_context().run, function, *args)
        return await loop.run_in_executor(self._executor, call)

    def _merged_gets(self) -> MergedGets:
        """The Gets of this client on the running loop, merged while one is in flight."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        gets = self._gets
        if gets is None or gets.loop is not loop:
            gets = self._gets = MergedGets(self._get_now, self._executor, loop)
        return gets

    def _operation(self, record: Any, state_type: Any, **kwargs: Any) -> Operation[Any]:
        return Operation(
            self.runtime,
            record,
            state_type,
            executor=self._executor,
            loop=self._client_loop,
            **kwargs,
        )

    async def open(self) -> Client:
        """Open the store (applying its migrations) on this loop; returns the client."""
        await self._blocking(self.runtime.open)
        return self

    async def close(self, grace: float | None = None) -> None:
        """Stop the worker gracefully (running handlers may finish), then close the store."""
        await self._blocking(self._close_now, grace)
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    async def __aenter__(self) -> Client:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def get_operation(
        self, name_or_request: str | operations_pb2.GetOperationRequest
    ) -> operations_pb2.Operation:
        """The operation as stored; NotFound or InvalidOperationName otherwise."""
        return await self._merged_gets().get(name_of(name_or_request))

    async def unmarshal_operation(
        self, name: str, response: Message | None = None, metadata: Message | None = None
    ) -> None:
        """Read operation ``name`` and unpack its response and metadata into the messages."""
        unmarshal_operation(await self.get_operation(name), response, metadata)

    async def unmarshal_metadata(self, name: str, metadata: Message) -> None:
        """Fill ``metadata`` from the stored metadata of operation ``name``, running or
        done; see ``lro.Client.unmarshal_metadata``."""
        await self._blocking(self._metadata_now, name, metadata)

    async def wait_operation(
        self, name: str, timeout: Duration | None = None
    ) -> operations_pb2.Operation:
        """The operation once done, or its latest state when ``timeout`` runs out."""
        return await self._wait_latest(name, timeout)

    async def _wait_latest(
        self, name: str, timeout: Duration | None, recheck_every: float = float("inf")
    ) -> operations_pb2.Operation:
        steps = self._latest_steps(name, timeout, recheck_every)
        return await drive_async(steps, self.runtime.clock, self._executor)

    async def list_operations(
        self,
        filter: str = "",
        page_size: int = 0,
        page_token: str = "",
        *,
        name: str = "operations",
    ) -> tuple[list[operations_pb2.Operation], str]:
        """One page of operations and the next page's token; see ``lro.Client``."""
        return await self._blocking(self._list_now, filter, page_size, page_token, name)

    async def cancel_operation(self, name: str) -> operations_pb2.Operation:
        """Cancel: a running operation ends with CANCELLED; a done one stays as it is."""
        return await self._blocking(self._cancel_now, name)

    async def delete_operation(self, name: str) -> None:
        """Delete an operation (it is not cancelled)."""
        await self._blocking(self._delete_now, name)

    async def purge(
        self, *, older_than: Duration, filter: str = "", collection: str = "operations"
    ) -> int:
        """Delete the done operations not updated for ``older_than``; see ``lro.Client``."""
        return await self._blocking(self._purge_now, older_than, filter, collection)

    @overload
    async def new_operation(
        self,
        *,
        state_type: type[T],
        context: Any = None,
        existing: str | None = None,
        parent: str = "",
        id: str | None = None,
        request_id: str | None = None,
        resume_method: str | None = None,
        callback: Callable[[Operation[T]], Awaitable[object]] | None = None,
        metadata: Message | None = None,
    ) -> Operation[T]: ...

    @overload
    async def new_operation(
        self,
        *,
        state_type: None = None,
        context: Any = None,
        existing: str | None = None,
        parent: str = "",
        id: str | None = None,
        request_id: str | None = None,
        resume_method: str | None = None,
        callback: Callable[[Operation[Any]], Awaitable[object]] | None = None,
        metadata: Message | None = None,
    ) -> Operation[Any]: ...

    async def new_operation(
        self,
        *,
        state_type: type[Any] | None = None,
        context: Any = None,
        existing: str | None = None,
        parent: str = "",
        id: str | None = None,
        request_id: str | None = None,
        resume_method: str | None = None,
        callback: Callable[[Operation[Any]], Awaitable[object]] | None = None,
        metadata: Message | None = None,
    ) -> Operation[Any]:
        """Start a new operation, or continue an existing one; see ``lro.Client``.

        ``callback`` is an ``async def``, run on the client's loop.
        """
        codec_for(state_type)  # refuses an unsupported state type before any write
        chosen = chosen_of(id, request_id, existing, parent)
        continued = continued_operation(existing, context, resume_method)
        record = await self._blocking(self._new_record_now, continued, parent, metadata, chosen)
        op = self._operation(record, state_type, callback=_coroutine_function(callback))
        telemetry.resumed_in_call(current_call.get(), record)
        return op

    def resumable(self, name: str, *, state_type: type[Any] | None = None) -> Callable[[F], F]:
        """Register ``async def fn(op)`` as the handler called ``name``; use as a decorator.

        Workers run it on the client's loop; see ``lro.Client.resumable``.
        """
        return self._register(
            name,
            lambda function: Resumable(
                run_on_loop(
                    self.runtime,
                    _coroutine_function(function),
                    state_type,
                    executor=self._executor,
                    loop=self._client_loop,
                    handler_name=name,
                ),
                state_type,
                name,
            ),
        )

    async def start(
        self,
        name: str,
        state: Any = None,
        metadata: Message | None = None,
        *,
        registered_elsewhere: bool = False,
        request_id: str | None = None,
        delay: Duration = 0,
    ) -> Operation[Any]:
        """Create an operation and have a worker run the handler ``name`` on it; see
        ``lro.Client.start``."""
        state_type = self._start_type(name, state, registered_elsewhere)
        starting = starting_of(request_id, delay)
        record = await self._blocking(self._start_now, name, state, state_type, metadata, starting)
        return self._operation(record, state_type, handler_name=name)


def face_of(client: ClientBase) -> Client:
    """``client`` as an ``lro.aio.Client``: itself, or an asyncio face that shares the
    runtime (store, handlers, worker) of an ``lro.Client``; closing stays with it."""
    if isinstance(client, Client):
        return client
    face = Client.__new__(Client)
    face.__dict__.update(client.__dict__)
    face._worker_setting = False  # the worker stays the sync client's
    return face


def _coroutine_function(function: Any) -> Any:
    """``function`` if it is an ``async def`` (or None), else InvalidArgument."""
    if function is not None and not inspect.iscoroutinefunction(function):
        raise InvalidArgument(f"{function!r} must be an async def for lro.aio")
    return function
