"""The OpenTelemetry SDK with in-memory exporters, installed once as the global
providers for the test session (lro uses the global providers)."""

from __future__ import annotations

import dataclasses

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@dataclasses.dataclass
class Telemetry:
    """What lro reported through the SDK."""

    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    def finished_spans(self, name_prefix: str = "lro.run") -> list[ReadableSpan]:
        return [s for s in self.spans.get_finished_spans() if s.name.startswith(name_prefix)]

    def points(self, metric: str) -> list[object]:
        """The data points of ``metric`` now (cumulative)."""
        data = self.metrics.get_metrics_data()
        found: list[object] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for item in scope.metrics:
                    if item.name == metric:
                        found.extend(item.data.data_points)
        return found

    def counts(self, metric: str) -> dict[str, int]:
        """A counter's totals by its ``code`` attribute ("" without one)."""
        return {
            str(dict(point.attributes or {}).get("code", "")): int(point.value)  # type: ignore[attr-defined]
            for point in self.points(metric)
        }


_SESSION: Telemetry | None = None


def _installed() -> Telemetry:
    global _SESSION  # noqa: PLW0603 (the global providers can be set once per process)
    if _SESSION is None:
        spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        trace.set_tracer_provider(tracer_provider)
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        _SESSION = Telemetry(spans, reader)
    return _SESSION


@pytest.fixture
def telemetry() -> Telemetry:
    """The SDK's exporters, with no spans left from earlier tests."""
    installed = _installed()
    installed.spans.clear()
    return installed
