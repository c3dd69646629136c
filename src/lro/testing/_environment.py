"""``lro.testing.Environment``: a store, a fake clock and the hand that runs due work."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from types import TracebackType

from lro._client import Client
from lro._core import durations
from lro._core.errors import FailedPrecondition
from lro._resume.inline import DEFAULT_MAX_RUNS, InlineRunner
from lro._resume.worker import WorkerSettings
from lro._store.sql_store import SqliteStore
from lro.aio._client import Client as AsyncClient
from lro.aio._client import face_of
from lro.testing._clock import FakeClock


class Environment:
    """A temporary SQLite store, a fake clock and no background worker, for tests.

    ``env.client`` (an ``lro.Client``) and ``env.aio_client`` (an ``lro.aio.Client``)
    share the store, the clock and the handlers registered on either. Nothing runs by
    itself: ``env.run_until_idle()`` runs the due wake-ups (first runs of
    ``client.start``, durable waits that are over, retries) in the calling thread, and
    ``env.advance(seconds)`` moves the clock, then does the same. Every time lro reads
    (due times, leases, timeouts, retry delays, create and update times) comes from
    ``env.clock``.

    Use it as a context manager; leaving it closes the clients and removes the store.

    Args:
        settings: the retry policy and lease that runs follow, as a worker's
            (``lro.WorkerSettings``; threads and poll interval do not apply).
        max_runs: the most wake-ups one ``run_until_idle`` runs before it gives up with
            ``lro.Aborted`` (a handler that waits again at once, without end).
    """

    def __init__(
        self, *, settings: WorkerSettings | None = None, max_runs: int = DEFAULT_MAX_RUNS
    ) -> None:
        self.clock = FakeClock()
        self.max_runs = max_runs
        self._settings = settings
        self._folder = tempfile.TemporaryDirectory(prefix="lro-testing-")
        self.path = Path(self._folder.name) / "lro.db"
        store = SqliteStore(self.path, synchronous="OFF", change_poll_interval=0, clock=self.clock)
        self.client = Client(store, worker=False, resumer="embedded")
        self._aio_client: AsyncClient | None = None
        self._runner: InlineRunner | None = None

    @property
    def aio_client(self) -> AsyncClient:
        """An ``lro.aio.Client`` on the same store, clock and handlers as ``client``.

        Its ``async def`` handlers run on the loop that first used it; from a
        coroutine, run them with ``await env.run_until_idle_async()``.
        """
        if self._aio_client is None:
            self._aio_client = face_of(self.client)
        return self._aio_client

    def run_until_idle(self) -> int:
        """Run every due wake-up in this thread until none is due; returns how many ran.

        Each handler run counts (finished, failed or waiting again), and so does a
        wake-up that only looked (its children behind an endpoint still run). The clock
        does not move, except by pauses that handlers take on it. On a running event
        loop this would block the loop that ``async def`` handlers need:
        FailedPrecondition, use ``await env.run_until_idle_async()`` there.
        """
        if _loop_running():
            raise FailedPrecondition(
                "env.run_until_idle() blocks the running event loop; "
                "use await env.run_until_idle_async() in a coroutine"
            )
        return self._run()

    def advance(self, seconds: durations.Duration) -> int:
        """Move the clock by ``seconds`` (or a timedelta), then ``run_until_idle``;
        returns how many wake-ups ran."""
        self.clock.advance(seconds)
        return self.run_until_idle()

    async def run_until_idle_async(self) -> int:
        """``run_until_idle`` for a coroutine: the runs happen in another thread while
        this loop runs the ``async def`` handlers."""
        return await asyncio.to_thread(self._run)

    async def advance_async(self, seconds: durations.Duration) -> int:
        """``advance`` for a coroutine (see ``run_until_idle_async``)."""
        self.clock.advance(seconds)
        return await self.run_until_idle_async()

    def _run(self) -> int:
        if self._runner is None:
            self._runner = InlineRunner(self.client.runtime, self._settings)
        return self._runner.run_until_idle(self.max_runs)

    def close(self) -> None:
        """Close the clients and remove the store's folder."""
        if self._runner is not None:
            self._runner.close()
        if self._aio_client is not None and self._aio_client._pool is not None:
            self._aio_client._pool.shutdown(wait=False)  # the face's own store threads
        self.client.close()
        self._folder.cleanup()

    def __enter__(self) -> Environment:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Environment({str(self.path)!r}, {self.clock!r})"


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
