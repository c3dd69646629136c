"""The app of the cross-process trace test: ``lro worker --app
tests.telemetry.traced_app:client`` with the OpenTelemetry SDK, each finished span
written as a JSON line to the file ``$LRO_TEST_SPANS``."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from google.protobuf import wrappers_pb2
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

import lro

SPANS_ENV = "LRO_TEST_SPANS"


class FileExporter(SpanExporter):
    """Appends each span, as one JSON line, to a file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with open(self.path, "a", encoding="utf-8") as file:
            for span in spans:
                file.write(json.dumps(json.loads(span.to_json())) + "\n")
        return SpanExportResult.SUCCESS


if SPANS_ENV in os.environ:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(FileExporter(os.environ[SPANS_ENV])))
    trace.set_tracer_provider(provider)

client = lro.Client(worker=False)


@client.resumable("report", state_type=dict)
def report(op: lro.Operation[dict[str, int]]) -> None:
    """Sleep durably, then finish; the inner span shows which process ran each part."""
    with trace.get_tracer("tests").start_as_current_span(f"work pid={os.getpid()}"):
        if op.resume_point == "":
            op.state = {"rows": 7}
            op.wait(sleep=3, resume_at="after")
            return
        op.done(wrappers_pb2.Int64Value(value=op.state["rows"]))
