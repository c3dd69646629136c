"""Tracing through ``lro.aio``: the trace current in the task that creates an operation
is stored with it (store calls run in a thread pool, in the task's context), and an
``async def`` handler's own spans are children of its run's span."""

from __future__ import annotations

import asyncio
from pathlib import Path

from opentelemetry import trace

import lro.aio
from tests.durable.conftest import FAST
from tests.telemetry.conftest import Telemetry
from tests.telemetry.test_tracing import run_spans, traceparent

TRACER = trace.get_tracer("tests")


def test_an_async_handler_runs_in_the_span_of_its_run(tmp_path: Path, telemetry: Telemetry) -> None:
    async def main() -> tuple[str, str]:
        async with lro.aio.Client(f"sqlite:///{tmp_path}/lro.db", worker=FAST) as client:

            @client.resumable("export")
            async def export(op: lro.aio.Operation[object]) -> None:
                if op.resume_point == "":
                    await op.wait(sleep=0.05, resume_at="after")
                    return
                with TRACER.start_as_current_span("inside the handler"):
                    await op.done()

            with TRACER.start_as_current_span("request") as request:
                op = await client.start("export")
                created = await client.new_operation()
            assert (await client.wait_operation(op.name, timeout=30)).done
            stored = await asyncio.to_thread(client.store.get, created.name)
            assert stored.trace_context == traceparent(request)
            return op.name, traceparent(request)

    asyncio.run(main())
    runs = sorted(run_spans(telemetry, "export"), key=lambda span: span.start_time or 0)
    assert len(runs) == 2
    (inside,) = [s for s in telemetry.finished_spans("inside") if s.name == "inside the handler"]
    assert inside.parent is not None
    assert runs[1].context is not None
    assert inside.parent.span_id == runs[1].context.span_id
