"""The gRPC call being served, as the serving interceptors record it.

``Client.new_operation`` reads it when no ``context`` is passed: the method becomes the
default resume method, and an ``x-alis-operation-id`` header continues that operation
(once per call, as the Go package removes the header after reading it). A request
message's non-empty ``request_id`` field is the AIP-155 request id of the first
operation the call creates. A resume that
Cloud Workflows makes after the wait's timeout also carries ``x-alis-wait-timed-out:
true``, which the continued operation shows as ``op.wait_timed_out``.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from lro._core.constants import WAIT_TIMED_OUT_HEADER

REQUEST_ID_FIELD = "request_id"


@dataclasses.dataclass(slots=True)
class ServedCall:
    """The full gRPC method (``/package.Service/Method``) and the resumed operation."""

    method: str
    operation_name: str | None = None
    wait_timed_out: bool = False
    resumed: str | None = None  # the operation that this call continued, once taken
    run: object = None  # the span of that run (lro._telemetry.start_run), if any
    request_id: str = ""  # the request message's AIP-155 request_id, until taken

    def take_request_id(self) -> str:
        """The request id of the request being served, the first time only."""
        request_id, self.request_id = self.request_id, ""
        return request_id

    def take_operation_name(self) -> tuple[str | None, bool]:
        """The resumed operation's name and whether its wait timed out, the first time
        only."""
        name, self.operation_name = self.operation_name, None
        if name is not None:
            self.resumed = name
        return name, self.wait_timed_out and name is not None


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


def request_id_in(request: object) -> str:
    """The AIP-155 request id of a request message: its ``request_id`` field if it is a
    singular string; "" otherwise (no such field, another type, a request stream)."""
    if not isinstance(request, Message):
        return ""
    field = request.DESCRIPTOR.fields_by_name.get(REQUEST_ID_FIELD)
    if field is None or field.type != FieldDescriptor.TYPE_STRING or field.is_repeated:
        return ""
    return str(getattr(request, REQUEST_ID_FIELD))


def header_says_timed_out(metadata: object) -> bool:
    """Whether gRPC ``metadata`` (key, value pairs) carries ``x-alis-wait-timed-out: true``."""
    for key, value in metadata or ():  # type: ignore[attr-defined]
        if str(key).lower() == WAIT_TIMED_OUT_HEADER:
            text = value if isinstance(value, str) else bytes(value).decode(errors="replace")
            return text.strip().lower() == "true"
    return False
