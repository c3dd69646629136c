"""OpenTelemetry for lro: a span for every handler run, one trace across resumes, and
metrics. Active only where ``opentelemetry-api`` is installed (``lro[otel]``); lro uses
the global tracer and meter providers, so nothing is recorded until the application
installs an SDK.

- ``trace_context()`` is the W3C trace context current when an operation is created; the
  store keeps it with the operation.
- ``handler_run(...)`` is the span ``lro.run {handler or method}`` of one run, a child of
  that stored context, in whatever process the run happens; it also records the
  wake-up's lag.
- ``operation_created()`` and ``operation_finished(code)`` count.

Without the API every function returns at once: the import is tried once, here.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.rpc import code_pb2

try:
    from opentelemetry import context as otel_context
    from opentelemetry import metrics, trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ImportError:  # the lro[otel] extra is not installed
    trace = None  # type: ignore[assignment]


class OperationRecord(Protocol):
    """What a run's span reads of a stored operation (``lro._store.base.OperationRecord``;
    typed here so that the store, which counts finished operations, may import this
    module)."""

    @property
    def name(self) -> str: ...
    @property
    def trace_context(self) -> str: ...
    @property
    def resume_point(self) -> str: ...
    @property
    def attempts(self) -> int: ...


class ServedCall(Protocol):
    """What a run's span reads and keeps of a served call (``lro._calls.ServedCall``)."""

    method: str
    resumed: str | None
    run: object


ENABLED = trace is not None
SCOPE = "lro"
RUN_SPAN = "lro.run {}"
_instruments: dict[str, Any] = {}


def _propagator() -> TraceContextTextMapPropagator:
    if "propagator" not in _instruments:
        _instruments["propagator"] = TraceContextTextMapPropagator()
    propagator: TraceContextTextMapPropagator = _instruments["propagator"]
    return propagator


def _instrument(name: str) -> Any:
    """The tracer or a metric instrument, made on first use from the global providers
    (proxies that follow a provider set later)."""
    found = _instruments.get(name)
    if found is None:
        meter = metrics.get_meter(SCOPE)
        makers: dict[str, Callable[[], Any]] = {
            "tracer": lambda: trace.get_tracer(SCOPE),
            "created": lambda: meter.create_counter(
                "lro.operations.created", unit="{operation}", description="operations created"
            ),
            "finished": lambda: meter.create_counter(
                "lro.operations.finished",
                unit="{operation}",
                description="operations that became done, by status code",
            ),
            "lag": lambda: meter.create_histogram(
                "lro.wakeup.lag", unit="s", description="from a wake-up's due time to its run"
            ),
        }
        found = _instruments[name] = makers[name]()
    return found


def trace_context() -> str:
    """The current W3C trace context: ``traceparent``, and ``tracestate`` on a second
    line when there is one; "" without a valid current span (or without the API)."""
    if not ENABLED or trace.get_current_span().get_span_context() == trace.INVALID_SPAN_CONTEXT:
        return ""  # what the propagator would inject: nothing
    carrier: dict[str, str] = {}
    _propagator().inject(carrier)
    parent = carrier.get("traceparent", "")
    state = carrier.get("tracestate", "")
    return f"{parent}\n{state}" if parent and state else parent


def _parent(stored: str) -> Any:
    """The OpenTelemetry context of a stored ``trace_context`` (None: a new trace)."""
    if not stored:
        return None
    parent, _, state = stored.partition("\n")
    carrier = {"traceparent": parent, **({"tracestate": state} if state else {})}
    return _propagator().extract(carrier)


class Run:
    """The span of one handler run; ``finished`` sets its status from the outcome."""

    def __init__(self, span: Any) -> None:
        self.span = span

    def finished(self, operation: operations_pb2.Operation | None) -> None:
        """Set the status from the operation as the run left it (None: not known)."""
        if self.span is None or operation is None:
            return
        if operation.done and operation.HasField("error"):
            code = _code_name(operation.error.code)
            description = f"{code}: {operation.error.message}"
            self.span.set_status(trace.Status(trace.StatusCode.ERROR, description))
        else:
            self.span.set_status(trace.Status(trace.StatusCode.OK))


@contextlib.contextmanager
def handler_run(
    target: str,
    record: OperationRecord,
    due_time_us: int = 0,
    *,
    span: bool = True,
    now_us: int = 0,
) -> Iterator[Run]:
    """The span ``lro.run {target}`` around a run of ``record``'s handler, continuing
    the trace stored with it (none when not ``span``); records the lag from
    ``due_time_us`` (0: none) to ``now_us`` (the runtime's clock; 0: the system's).

    An exception in the run sets the span's status to ERROR and goes on.
    """
    if not ENABLED:
        yield Run(None)
        return
    if due_time_us:
        _record_lag(due_time_us, now_us or time.time_ns() // 1000)
    if not span:
        yield Run(None)
        return
    with _instrument("tracer").start_as_current_span(
        RUN_SPAN.format(target),
        context=_parent(record.trace_context),
        kind=trace.SpanKind.INTERNAL,
        attributes=_run_attributes(record),
    ) as current:
        yield Run(current)


def start_run(target: str, record: OperationRecord) -> Any:
    """Start the span of a run that ``end_run`` ends (for a gRPC method resumed under
    the serving interceptor, whose run starts in ``new_operation``); makes it current.
    None without the API."""
    if not ENABLED:
        return None
    span = _instrument("tracer").start_span(
        RUN_SPAN.format(target),
        context=_parent(record.trace_context),
        kind=trace.SpanKind.INTERNAL,
        attributes=_run_attributes(record),
    )
    token = otel_context.attach(trace.set_span_in_context(span))
    return (span, token)


def end_run(started: Any, error: BaseException | None) -> None:
    """End a span from ``start_run``: ERROR with ``error``, else OK."""
    if started is None:
        return
    span, token = started
    if error is not None:
        span.record_exception(error)
        span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(error).__name__}: {error}"))
    else:
        span.set_status(trace.Status(trace.StatusCode.OK))
    span.end()
    with contextlib.suppress(ValueError):  # detached in another context: nothing to undo
        otel_context.detach(token)


def resumed_in_call(call: ServedCall | None, record: OperationRecord) -> None:
    """Start the run's span when ``record`` is the operation that the served gRPC
    ``call`` resumes (``x-alis-operation-id``); the interceptor ends it."""
    if ENABLED and call is not None and call.resumed == record.name and call.run is None:
        call.run = start_run(call.method, record)


def _run_attributes(record: OperationRecord) -> dict[str, Any]:
    return {
        "lro.operation.name": record.name,
        "lro.resume_point": record.resume_point,
        "lro.attempt": record.attempts + 1,
    }


def _record_lag(due_time_us: int, now_us: int) -> None:
    _instrument("lag").record(max(now_us - due_time_us, 0) / 1e6)


def operation_created() -> None:
    """Count an operation created in the store."""
    if ENABLED:
        _instrument("created").add(1)


def operation_finished(operation: operations_pb2.Operation) -> None:
    """Count an operation that became done, by its status code (``OK`` without error)."""
    if ENABLED:
        code = operation.error.code if operation.HasField("error") else code_pb2.OK
        _instrument("finished").add(1, {"code": _code_name(code)})


_CODE_NAMES = {number: name for name, number in code_pb2.Code.items()}


def _code_name(code: int) -> str:
    """``code``'s name in ``google.rpc.Code``, else its number."""
    return _CODE_NAMES.get(code) or str(code)
