"""The sync driver: runs the generators of ``lro._core.waiting`` in the calling thread."""

from __future__ import annotations

import threading
from typing import Any, TypeVar, cast

import google.longrunning.operations_proto_pb2 as operations_pb2

from lro._core.clock import SYSTEM_CLOCK, Clock
from lro._core.waiting import Call, OperationsService, Pause, Read, Request, Steps, Watch
from lro._store.base import Store
from lro._store.notify import Subscription

R = TypeVar("R")


class _Performer:
    """Performs the requests of one generator; a change to a watched name sets ``changed``."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.changed = threading.Event()
        self.subscriptions: list[Subscription] = []

    def perform(self, request: Request) -> Any:
        if isinstance(request, Call):
            return request.function(*request.args)
        if isinstance(request, Read):
            records = cast(Store, request.source).get_many(request.names)
            return {name: record.operation for name, record in records.items()}
        if isinstance(request, Pause):
            return self.pause(request.seconds)
        if isinstance(request, Watch):
            hub = cast(Store, request.source).changes
            self.subscriptions.append(hub.subscribe(request.names, self._on_change))
            return None
        return poll(cast(OperationsService, request.service), request.names)

    def _on_change(self, _name: str) -> None:
        self.changed.set()

    def pause(self, seconds: float) -> bool:
        if not self.subscriptions:
            self.clock.sleep(seconds)
            return False
        changed = self.clock.wait(self.changed, seconds)
        self.changed.clear()
        return changed

    def close(self) -> None:
        for subscription in self.subscriptions:
            subscription.cancel()


def poll(service: OperationsService, names: tuple[str, ...]) -> dict[str, Any]:
    """``service.GetOperation`` of each name, in order."""
    return {
        name: service.GetOperation(operations_pb2.GetOperationRequest(name=name)) for name in names
    }


def drive(steps: Steps[R], clock: Clock = SYSTEM_CLOCK) -> R:
    """Run ``steps`` to its end in this thread; returns its value or raises its error.

    An exception of a request goes back into the generator, which may handle it.
    """
    performer = _Performer(clock)
    try:
        request = next(steps)
        while True:
            try:
                result = performer.perform(request)
            except Exception as exc:
                request = steps.throw(exc)
            else:
                request = steps.send(result)
    except StopIteration as stop:
        return cast(R, stop.value)
    finally:
        steps.close()
        performer.close()
