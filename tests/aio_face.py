"""``lro.aio`` seen through the sync API, so that one test runs on both faces.

An event loop runs in a thread of its own. Each awaited method of an ``lro.aio.Client``
or ``lro.aio.Operation`` becomes a blocking call that runs the coroutine on that loop;
``op.state`` and ``op.cancelled`` become ``get_state``/``set_state``/``is_cancelled``.
A sync handler or callback registered through the adapter runs in a worker thread,
called from an ``async def`` on the loop, with an adapted handle.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import lro
import lro.aio

T = TypeVar("T")


class LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.handlers = ThreadPoolExecutor(32, thread_name_prefix="test-handler")
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for its result (not from the loop)."""
        assert threading.current_thread() is not self._thread, "would block the loop"
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
        self.handlers.shutdown(wait=False)


def _plain(value: object) -> object:
    """The aio object behind an adapter, for arguments passed back to lro."""
    return value._aio if isinstance(value, _Adapter) else value


class _Adapter:
    """Forwards attributes to an aio object; coroutine methods become blocking calls."""

    def __init__(self, aio: Any, loops: LoopThread) -> None:
        object.__setattr__(self, "_aio", aio)
        object.__setattr__(self, "_loops", loops)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._aio, name)
        if inspect.iscoroutinefunction(value):
            return functools.partial(self._call, value)
        return value

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        args = tuple(_plain(a) for a in args)
        kwargs = {key: _plain(v) for key, v in kwargs.items()}
        result = self._loops.run(method(*args, **kwargs))
        if isinstance(result, lro.aio.Operation):
            return SyncOperation(result, self._loops)
        return result

    def _in_thread(self, function: Callable[[Any], object]) -> Callable[[Any], Any]:
        """An ``async def`` that runs the sync ``function`` in a thread with an adapted
        handle."""
        loops = self._loops

        async def run(op: lro.aio.Operation[Any]) -> None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(loops.handlers, function, SyncOperation(op, loops))

        return run


class SyncOperation(_Adapter):
    """An ``lro.aio.Operation`` with the sync ``lro.Operation`` API."""

    @property
    def state(self) -> Any:
        return self._call(self._aio.get_state)

    @state.setter
    def state(self, value: Any) -> None:
        self._call(self._aio.set_state, value)

    @property
    def cancelled(self) -> bool:
        return bool(self._call(self._aio.is_cancelled))


class SyncClient(_Adapter):
    """An ``lro.aio.Client`` with the sync ``lro.Client`` API."""

    def new_operation(self, **kwargs: Any) -> Any:
        if kwargs.get("callback") is not None:
            kwargs["callback"] = self._in_thread(kwargs["callback"])
        return self._call(self._aio.new_operation, **kwargs)

    def resumable(self, name: str, *, state_type: Any = None) -> Callable[[T], T]:
        def register(function: T) -> T:
            handler = self._in_thread(function)  # type: ignore[arg-type]
            self._aio.resumable(name, state_type=state_type)(handler)
            return function

        return register

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._aio.close)


@contextlib.contextmanager
def aio_client(*args: Any, **kwargs: Any) -> Iterator[SyncClient]:
    """An open ``lro.aio.Client(*args, **kwargs)`` behind the sync API, on a loop of its own."""
    loops = LoopThread()
    try:
        client = SyncClient(lro.aio.Client(*args, **kwargs), loops)
        client.open()
        with client:
            yield client
    finally:
        loops.close()


def sync_wait_operation(client: SyncClient) -> Callable[..., Any]:
    """``lro.aio.wait_operation`` as a blocking call, on the loop of ``client``."""

    def wait_operation(name: str, service: object = None, timeout: float = 77) -> Any:
        waiting = lro.aio.wait_operation(name, _plain(service), timeout)  # type: ignore[arg-type]
        return client._loops.run(waiting)

    return wait_operation
