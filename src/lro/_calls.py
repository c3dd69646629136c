"""The gRPC call being served, as the serving interceptors record it.

``Client.new_operation`` reads it when no ``context`` is passed: the method becomes the
default resume method, and an ``x-alis-operation-id`` header continues that operation
(once per call, as the Go package removes the header after reading it).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator


@dataclasses.dataclass(slots=True)
class ServedCall:
    """The full gRPC method (``/package.Service/Method``) and the resumed operation."""

    method: str
    operation_name: str | None = None

    def take_operation_name(self) -> str | None:
        """The resumed operation's name, the first time only."""
        name, self.operation_name = self.operation_name, None
        return name


current_call: contextvars.ContextVar[ServedCall | None] = contextvars.ContextVar(
    "lro_current_call", default=None
)


@contextlib.contextmanager
def serving(call: ServedCall) -> Iterator[ServedCall]:
    """Make ``call`` the current call for the code run inside."""
    token = current_call.set(call)
    try:
        yield call
    finally:
        current_call.reset(token)
