"""What the lower layers get instead of the Client.

An operation handle, the embedded worker, a resumption and the resume endpoint each
receive a ``Runtime``: the store (opened on first use), the registry of handlers, the
cloud resumer, the resume host, the clock, and the hook told when a wake-up was
scheduled. They never see the Client.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from lro._core.clock import SYSTEM_CLOCK, Clock
from lro._core.errors import AlreadyExists, Unavailable
from lro._store.base import OperationRecord, Store, TargetKind, Wakeup


@dataclasses.dataclass(frozen=True, slots=True)
class ResumeTarget:
    """Whom a durable wait resumes.

    ``kind`` "handler": the handler registered as ``name``; "grpc": the gRPC method
    ``name`` at ``endpoint``; "callback": the development callback of operation
    ``name``, in the process ``pinned_to``.
    """

    kind: TargetKind
    name: str
    endpoint: str = ""
    pinned_to: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Resumable:
    """A registered handler (or a development callback), ready to run.

    ``run(record)`` calls it on the operation of ``record`` and returns the operation's
    record as the handler's handle last saw it. ``label`` names the function (the span
    of a callback's run is named after it).
    """

    run: Callable[[OperationRecord], OperationRecord]
    state_type: type[Any] | None = None
    label: str = ""


class Registry:
    """The handlers of this process by name, and the development callbacks by operation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: dict[str, Resumable] = {}
        self._callbacks: dict[str, Resumable] = {}

    def add_handler(self, name: str, resumable: Resumable) -> None:
        """Register ``resumable`` as ``name``; AlreadyExists if the name is taken."""
        with self._lock:
            if name in self._handlers:
                raise AlreadyExists(f"a handler called {name!r} is registered already")
            self._handlers[name] = resumable

    def handler(self, name: str) -> Resumable | None:
        """The handler registered as ``name``, if any."""
        return self._handlers.get(name)

    def handler_names(self) -> list[str]:
        """The names of the registered handlers, sorted."""
        with self._lock:
            return sorted(self._handlers)

    def add_callback(self, operation: str, resumable: Resumable) -> None:
        """Keep the development callback that resumes ``operation``."""
        with self._lock:
            self._callbacks[operation] = resumable

    def callback(self, operation: str) -> Resumable | None:
        """The development callback of ``operation``, if any."""
        return self._callbacks.get(operation)

    def drop_callback(self, operation: str) -> None:
        """Forget the callback of a finished operation."""
        with self._lock:
            self._callbacks.pop(operation, None)


@dataclasses.dataclass(frozen=True, slots=True)
class HandOver:
    """A durable wait, as a cloud resumer gets it: the operation and whom to resume.

    ``binding`` is the token of the wake-up that a resume endpoint's task is bound to
    (see ``lro._resume.binding``); empty for resumers that call the target themselves.
    """

    record: OperationRecord
    target_kind: TargetKind
    target: str
    sleep: float
    children: Sequence[str]
    timeout: float
    poll_frequency: float
    child_endpoint: str
    binding: str = ""


class CloudResumer(Protocol):
    """Resumes operations through a managed service instead of the embedded worker."""

    def accepts(self, target_kind: TargetKind, children: Sequence[str]) -> bool:
        """Whether this resumer can serve a wait for this target and children."""
        ...

    def resume_later(self, hand_over: HandOver) -> str:
        """Hand the wait over; returns the name of what was created (execution, task)."""
        ...


def _no_hook(_wakeup: Wakeup) -> None:
    """The default "scheduled" hook: nobody to tell."""


class Runtime:
    """The store and the settings that operations, workers and resumptions share.

    Args:
        store: the store, or a function that opens it (called once, on first use).
        registry: the handlers and callbacks of this process.
        cloud_resumer: who resumes durable waits besides the embedded worker.
        resume_host: where resumed gRPC calls go.
        clock: where time is read; default the clock of ``store`` when it is a store
            object that has one (``SqliteStore(..., clock=...)``), else the system's.
        scheduled: told of every wake-up written through this runtime, so that a
            worker sees it in time.
    """

    def __init__(
        self,
        store: Store | Callable[[], Store],
        *,
        registry: Registry | None = None,
        cloud_resumer: CloudResumer | None = None,
        resume_host: str = "",
        clock: Clock | None = None,
        scheduled: Callable[[Wakeup], None] = _no_hook,
    ) -> None:
        self._opener = store if callable(store) else None
        self._store: Store | None = None if callable(store) else store
        self._lock = threading.Lock()
        self._closed = False
        self.registry = registry or Registry()
        self.cloud_resumer = cloud_resumer
        self.resume_host = resume_host
        self.clock: Clock = clock or _clock_of(store)
        self.scheduled = scheduled
        self.instance_id = uuid.uuid4().hex

    @property
    def store(self) -> Store:
        """The store, opened (and migrated) on first use."""
        store = self._store
        if store is None:
            store = self.open()
        return store

    def open(self) -> Store:
        """Open the store now if it is not open yet; returns it."""
        with self._lock:
            if self._store is None:
                if self._closed or self._opener is None:
                    raise Unavailable("the client is closed")
                self._store = self._opener()
            return self._store

    @property
    def is_open(self) -> bool:
        """Whether the store has been opened."""
        return self._store is not None

    def close(self) -> None:
        """Close the store if it was opened; it is not opened again."""
        with self._lock:
            self._closed = True
            store = self._store
        if store is not None:
            store.close()


def _clock_of(store: Store | Callable[[], Store]) -> Clock:
    """The clock a store object reads (one clock for the store and its runtime)."""
    found = None if callable(store) else getattr(store, "clock", None)
    return found if isinstance(found, Clock) else SYSTEM_CLOCK


@runtime_checkable
class HasRuntime(Protocol):
    """An lro client of either face (``lro.Client``, ``lro.aio.Client``): a wait on
    its operations reads its store and wakes on its notifications."""

    @property
    def runtime(self) -> Runtime:
        """The client's runtime."""
        ...
