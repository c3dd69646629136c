"""The cost of OpenTelemetry: lro with the SDK installed and tracing on, against lro
without an SDK (the API's no-op providers), in one run.

Two workloads on SQLite (``synchronous=NORMAL``, so that Python work is not hidden
behind fsyncs):

- lifecycles: ``new_operation`` inside a request span, ``set_metadata``, ``done``
  (the trace context is stored; two counters count);
- handler runs: ``client.start`` of a handler that finishes at once, run by the
  embedded worker (one ``lro.run`` span each, the lag histogram).

Each round runs in a fresh process, alternating off and on; the figure is the median
of the rounds. With tracing on, every span is sampled and goes through a
``BatchSpanProcessor`` to an exporter that drops it, and the metrics to a reader.

    .venv/bin/python -m bench.otel_overhead [--rounds 7] [--lifecycles 2000] [--runs 1000]

It also times the telemetry of one handler run alone (the span and the lag), which the
throughput of a shared machine hides in its noise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from google.protobuf import struct_pb2, wrappers_pb2


def _install_sdk() -> None:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Dropping(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Dropping()))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))


def lifecycles(url: str, count: int) -> float:
    """Lifecycles per second, each inside a request span."""
    from opentelemetry import trace

    import lro

    tracer = trace.get_tracer("bench")
    with lro.Client(url) as client:
        started = time.perf_counter()
        for index in range(count):
            with tracer.start_as_current_span("request"):
                op = client.new_operation()
            op.set_metadata(struct_pb2.Struct(fields={"i": struct_pb2.Value(number_value=index)}))
            op.done(wrappers_pb2.Int32Value(value=index))
        return count / (time.perf_counter() - started)


def handler_runs(url: str, count: int) -> float:
    """Handler runs per second: ``start`` to done, the embedded worker running them."""
    import lro

    settings = lro.WorkerSettings(threads=4, poll_interval=0.01)
    with lro.Client(url, worker=settings) as client:

        @client.resumable("quick")
        def quick(op: lro.Operation[object]) -> None:
            op.done()

        started = time.perf_counter()
        names = [client.start("quick").name for _ in range(count)]
        for name in names:
            client.wait_operation(name, timeout=120)
        return count / (time.perf_counter() - started)


def hook_micros(count: int = 20_000) -> float:
    """Microseconds that lro's telemetry adds to one handler run: its span (continuing
    a stored trace context) and the lag histogram, with no store work around it."""
    from lro import _telemetry as telemetry
    from lro._core import transitions
    from lro._store.base import OperationRecord, now_us

    record = OperationRecord(
        transitions.new_operation("operations/bench"),
        trace_context="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    started = time.perf_counter()
    for _ in range(count):
        with telemetry.handler_run("bench", record, now_us()) as run:
            run.finished(record.operation)
    return (time.perf_counter() - started) / count * 1e6


def _child(mode: str, lifecycle_count: int, run_count: int) -> None:
    if mode == "on":
        _install_sdk()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db?synchronous=NORMAL"
        result = {
            "lifecycles": lifecycles(url, lifecycle_count),
            "runs": handler_runs(f"sqlite:///{folder}/runs.db?synchronous=NORMAL", run_count),
            "hook": hook_micros(),
        }
    print(json.dumps(result))


def _round(mode: str, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.otel_overhead", "--child", mode]
    command += ["--lifecycles", str(args.lifecycles), "--runs", str(args.runs)]
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1]
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--lifecycles", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--child", choices=("on", "off"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.lifecycles, args.runs)
        return
    results: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    for _ in range(args.rounds):
        for mode in ("off", "on"):
            results[mode].append(_round(mode, args))
    print(f"{args.rounds} rounds each; median per second (SQLite, synchronous=NORMAL)")
    print("| workload | no SDK | SDK, tracing on | ratio |")
    print("|---|---|---|---|")
    for workload, label in (("lifecycles", "lifecycles"), ("runs", "handler runs")):
        off = statistics.median(r[workload] for r in results["off"])
        on = statistics.median(r[workload] for r in results["on"])
        print(f"| {label} | {off:,.0f} | {on:,.0f} | {on / off:.2f} |")
    off = statistics.median(r["hook"] for r in results["off"])
    on = statistics.median(r["hook"] for r in results["on"])
    print(f"telemetry per handler run: {off:.1f} us without an SDK, {on:.1f} us with it")


if __name__ == "__main__":
    main()
