"""``lro.aio.Operation[T]``: the handle of one operation, with awaited methods."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Executor
from typing import Any, TypeVar, cast

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.protobuf.message import Message
from google.rpc import status_pb2

from lro._core import transitions
from lro._core.constants import POLL_FREQUENCY, WAIT_TIMEOUT
from lro._core.durations import Duration
from lro._core.waiting import OperationsService
from lro._operation_base import OperationBase, finishing, label_of, setting_metadata
from lro._runtime import HasRuntime, Resumable, Runtime
from lro._store.base import OperationRecord
from lro.aio._drive import drive_async

T = TypeVar("T")
R = TypeVar("R")


class Operation(OperationBase[T]):
    """One long-running operation, as an ``async def`` handler sees it.

    The same handle as ``lro.Operation``, with awaited methods: store calls run in the
    client's thread pool, and a wait holds no thread (it is woken by the store's change
    notifications). ``name``, ``resume_point`` and ``wait_timed_out`` are plain
    attributes; the state is read and saved with ``await get_state()`` and
    ``await set_state(s)``.
    """

    def __init__(
        self,
        runtime: Runtime,
        record: OperationRecord,
        state_type: type[T] | None = None,
        *,
        executor: Executor | None = None,
        loop: Callable[[], asyncio.AbstractEventLoop] | None = None,
        handler_name: str = "",
        callback: Callable[[Any], Awaitable[object]] | None = None,
    ) -> None:
        super().__init__(runtime, record, state_type, handler_name=handler_name, callback=callback)
        self._executor = executor
        self._loop = loop

    async def _blocking(self, function: Callable[..., R], *args: Any) -> R:
        """``function(*args)`` in the client's thread pool, in this task's context."""
        loop = asyncio.get_running_loop()
        call = functools.partial(contextvars.copy_context().run, function, *args)
        return await loop.run_in_executor(self._executor, call)

    async def get_operation(self) -> operations_pb2.Operation:
        """The operation as stored now."""
        return (await self._blocking(self._read)).operation

    async def return_rpc(self) -> operations_pb2.Operation:
        """The operation to return from the service method that started it."""
        return await self.get_operation()

    async def is_cancelled(self) -> bool:
        """Whether the operation has been cancelled (read from the store now)."""
        return transitions.is_cancelled(await self.get_operation())

    async def set_metadata(self, metadata: Message) -> operations_pb2.Operation:
        """Replace the metadata (progress); OperationAlreadyDone once done."""
        return (await self._blocking(self._update, setting_metadata(metadata))).operation

    async def done(
        self, response: Message | None = None, *, metadata: Message | None = None
    ) -> operations_pb2.Operation:
        """Finish with ``response`` (``google.protobuf.Empty`` if None); see
        ``lro.Operation.done``."""
        return (await self._blocking(self._update, finishing(response, metadata))).operation

    async def error(
        self, error: BaseException | status_pb2.Status, *, metadata: Message | None = None
    ) -> operations_pb2.Operation:
        """Finish with an error, keeping its gRPC code; see ``lro.Operation.error``."""
        return (await self._blocking(self._error_now, error, metadata)).operation

    async def delete(self) -> None:
        """Delete the operation from the store."""
        await self._blocking(self._store.delete, self.name)

    async def get_state(self) -> T:
        """The handler's private state: as saved, else a fresh ``state_type()``."""
        return self._loaded_state()

    async def set_state(self, value: T) -> None:
        """Save the handler's private state in the store (checked against its type)."""
        await self._blocking(self._save_state, value)

    async def wait(
        self,
        *,
        sleep: Duration = 0,
        children: Iterable[str] = (),
        timeout: Duration = WAIT_TIMEOUT,
        poll_frequency: Duration = POLL_FREQUENCY,
        service: OperationsService | HasRuntime | None = None,
        resume_at: str | None = None,
        child_endpoint: str | None = None,
    ) -> dict[str, operations_pb2.Operation]:
        """Sleep, then wait until every child operation is done; see ``lro.Operation.wait``.

        ``service`` may also be a ``grpc.aio`` Operations stub, or an ``lro.aio.Client``.
        """
        steps = self._wait_steps(
            sleep=sleep,
            children=children,
            timeout=timeout,
            poll_frequency=poll_frequency,
            service=service,
            resume_at=resume_at,
            child_endpoint=child_endpoint,
        )
        return await drive_async(steps, self._runtime.clock, self._executor)

    def _callback_resumable(self) -> Resumable:
        callback = cast(Callable[[Any], Awaitable[object]], self.callback)
        assert self._loop is not None
        run = run_on_loop(
            self._runtime, callback, self._state_type, executor=self._executor, loop=self._loop
        )
        return Resumable(run, self._state_type, label_of(callback))


def run_on_loop(
    runtime: Runtime,
    function: Callable[[Any], Awaitable[object]],
    state_type: type[Any] | None,
    *,
    executor: Executor | None,
    loop: Callable[[], asyncio.AbstractEventLoop],
    handler_name: str = "",
) -> Callable[[OperationRecord], OperationRecord]:
    """How a worker thread runs the ``async def`` ``function`` (a handler, or a callback
    when ``handler_name`` is empty): on the client's event loop, with a fresh
    ``lro.aio.Operation``, waiting for it to end."""

    def run(record: OperationRecord) -> OperationRecord:
        op = Operation(
            runtime,
            record,
            state_type,
            executor=executor,
            loop=loop,
            handler_name=handler_name,
            callback=None if handler_name else function,
        )
        asyncio.run_coroutine_threadsafe(_await(function(op)), loop()).result()
        return op._current()

    return run


async def _await(awaitable: Awaitable[object]) -> None:
    await awaitable
