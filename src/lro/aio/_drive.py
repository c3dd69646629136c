"""The asyncio driver: runs the generators of ``lro._core.waiting`` on an event loop.

A pause waits on an ``asyncio.Event`` that the store's change notifications set from
any thread (through ``loop.call_soon_threadsafe``), so no thread is held while a wait
waits. Blocking calls (store I/O) run in a bounded thread pool: the one given, else
the loop's default executor. The reads of all the waits on one store are merged while
one is in flight, so that a change that wakes many waiters costs a few queries.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import weakref
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar, cast

import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc.aio

from lro._core.clock import SYSTEM_CLOCK, Clock
from lro._core.errors import Unavailable
from lro._core.waiting import Call, Pause, Poll, Read, Request, Steps, Watch
from lro._store.base import Store
from lro._store.notify import Subscription

R = TypeVar("R")


def runs_on_loop(function: object) -> bool:
    """Whether calling ``function`` gives something to await (a coroutine function, a
    ``grpc.aio`` stub method) rather than blocking."""
    return inspect.iscoroutinefunction(function) or isinstance(
        function, grpc.aio.UnaryUnaryMultiCallable
    )


READ_CHUNK = 900  # names per query of a merged read


class _ReadBatcher:
    """Merges the reads of the waits on one store: reads asked for while one is in
    flight are made together, as one ``get_many`` of all their names, next. Many
    waiters woken by one change then cost a few queries, not one each."""

    def __init__(self, store: Store, executor: Executor | None) -> None:
        self._store = weakref.ref(store)
        self._executor = executor
        self._queue: list[tuple[tuple[str, ...], asyncio.Future[dict[str, Any]]]] = []
        self._flushing = False
        self._task: asyncio.Task[None] | None = None

    async def read(self, names: tuple[str, ...]) -> dict[str, operations_pb2.Operation]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._queue.append((names, future))
        if not self._flushing:
            self._flushing = True
            self._task = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                wanted = sorted({name for names, _ in batch for name in names})
                try:
                    found = await loop.run_in_executor(self._executor, self._read, wanted)
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for names, future in batch:
                    if not future.done():
                        future.set_result({n: found[n] for n in names if n in found})
        finally:
            self._flushing = False

    def _read(self, names: list[str]) -> dict[str, operations_pb2.Operation]:
        store = self._store()
        if store is None:
            raise Unavailable("the store is closed")
        found: dict[str, operations_pb2.Operation] = {}
        for start in range(0, len(names), READ_CHUNK):
            records = store.get_many(names[start : start + READ_CHUNK])
            found.update((name, record.operation) for name, record in records.items())
        return found


_batchers: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, weakref.WeakKeyDictionary[Store, _ReadBatcher]
] = weakref.WeakKeyDictionary()


def _batcher(store: Store, executor: Executor | None) -> _ReadBatcher:
    """The read batcher of ``store`` on the running loop (kept while both live)."""
    by_store = _batchers.setdefault(asyncio.get_running_loop(), weakref.WeakKeyDictionary())
    batcher = by_store.get(store)
    if batcher is None:
        batcher = by_store[store] = _ReadBatcher(store, executor)
    return batcher


class _AsyncPerformer:
    """Performs the requests of one generator on the running loop."""

    def __init__(self, clock: Clock, executor: Executor | None) -> None:
        self.loop = asyncio.get_running_loop()
        self.clock = clock
        self.executor = executor
        self.changed = asyncio.Event()
        self.subscriptions: list[Subscription] = []

    async def blocking(self, function: Callable[..., Any], *args: Any) -> Any:
        if runs_on_loop(function):
            return await function(*args)
        call = functools.partial(contextvars.copy_context().run, function, *args)
        return await self.loop.run_in_executor(self.executor, call)

    async def perform(self, request: Request) -> Any:
        if isinstance(request, Call):
            return await self.blocking(request.function, *request.args)
        if isinstance(request, Read):
            store = cast(Store, request.source)
            return await _batcher(store, self.executor).read(request.names)
        if isinstance(request, Pause):
            changed = await self.clock.wait_async(self.changed, request.seconds)
            self.changed.clear()
            return changed
        if isinstance(request, Watch):
            hub = cast(Store, request.source).changes
            self.subscriptions.append(hub.subscribe(request.names, self._on_change))
            return None
        return await self.poll(request)

    async def poll(self, request: Poll) -> dict[str, operations_pb2.Operation]:
        get = request.service.GetOperation  # type: ignore[attr-defined]
        found = {}
        for name in request.names:
            found[name] = await self.blocking(get, operations_pb2.GetOperationRequest(name=name))
        return found

    def _on_change(self, _name: str) -> None:
        # Called on the writer's thread; the loop may have closed since.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.changed.set)

    def close(self) -> None:
        for subscription in self.subscriptions:
            subscription.cancel()


async def drive_async(
    steps: Steps[R], clock: Clock = SYSTEM_CLOCK, executor: Executor | None = None
) -> R:
    """Run ``steps`` to its end on the running loop; returns its value or raises its error.

    An exception of a request goes back into the generator, which may handle it.
    """
    performer = _AsyncPerformer(clock, executor)
    try:
        request = next(steps)
        while True:
            try:
                result = await performer.perform(request)
            except Exception as exc:
                request = steps.throw(exc)
            else:
                request = steps.send(result)
    except StopIteration as stop:
        return cast(R, stop.value)
    finally:
        steps.close()
        performer.close()
