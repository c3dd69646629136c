"""Concurrent ``get_operation`` calls of one asyncio client, merged into one hop.

Each store call of ``lro.aio`` runs in the client's thread pool: a hop from the loop
to a thread and back, which costs more than a read by primary key. The Gets asked for
while one hop is in flight go together in the next: one thread reads them one by one
(each in its caller's context, each with its own answer or error), and one callback
on the loop delivers every answer.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
from collections.abc import Callable
from concurrent.futures import Executor

import google.longrunning.operations_proto_pb2 as operations_pb2

Read = Callable[[str], operations_pb2.Operation]
Asked = tuple[contextvars.Context, str, "asyncio.Future[operations_pb2.Operation]"]
Answer = tuple[
    "asyncio.Future[operations_pb2.Operation]", operations_pb2.Operation | None, Exception | None
]


class MergedGets:
    """The Gets of one client on one loop, read ``read(name)`` in ``executor``."""

    def __init__(self, read: Read, executor: Executor, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._read = read
        self._executor = executor
        self._asked: collections.deque[Asked] = collections.deque()
        self._in_flight = False

    def get(self, name: str) -> asyncio.Future[operations_pb2.Operation]:
        """The operation ``name`` (or the read's error), once read."""
        answer: asyncio.Future[operations_pb2.Operation] = self.loop.create_future()
        self._asked.append((contextvars.copy_context(), name, answer))
        if not self._in_flight:
            self._send()
        return answer

    def _send(self) -> None:
        """Hand the Gets asked so far to a thread (on the loop)."""
        self._in_flight = True
        try:
            self._executor.submit(self._read_asked)
        except RuntimeError as exc:  # the pool is shut down: the client is closed
            self._in_flight = False
            while self._asked:
                _, _, answer = self._asked.popleft()
                if not answer.done():
                    answer.set_exception(exc)

    def _read_asked(self) -> None:
        """Read every Get asked (on a pool thread), then deliver them all on the loop."""
        answers: list[Answer] = []
        try:
            while self._asked:
                context, name, answer = self._asked.popleft()
                try:
                    answers.append((answer, context.run(self._read, name), None))
                except Exception as exc:
                    answers.append((answer, None, exc))
        finally:
            with contextlib.suppress(RuntimeError):  # the loop has closed since
                self.loop.call_soon_threadsafe(self._deliver, answers)

    def _deliver(self, answers: list[Answer]) -> None:
        """Set each answer (on the loop), and send the Gets asked meanwhile."""
        for answer, operation, error in answers:
            if answer.done():  # its caller was cancelled
                continue
            if error is not None:
                answer.set_exception(error)
            else:
                answer.set_result(operation)  # type: ignore[arg-type]
        if self._asked:
            self._send()
        else:
            self._in_flight = False
