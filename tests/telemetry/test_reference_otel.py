"""The OpenTelemetry set-up of the reference (docs/reference/observability.md) works as
written: with it, a handler run prints its span and the metrics print their names."""

from __future__ import annotations

from pathlib import Path

from tests.doc_pages import page, python_blocks, run_script, section

THEN = """
import lro

with lro.Client("sqlite:///otel.db") as client:
    @client.resumable("quick")
    def quick(op):
        op.done()

    op = client.start("quick")
    assert client.wait_operation(op.name, timeout=30).done
tracing.shutdown()
metrics.get_meter_provider().shutdown()
"""


def test_the_documented_set_up_reports_spans_and_metrics(tmp_path: Path) -> None:
    (set_up,) = python_blocks(section(page("observability"), "Tracing and metrics (OpenTelemetry)"))
    assert len(set_up.strip().splitlines()) <= 10
    printed = "\n".join(run_script(tmp_path, set_up + THEN, "traced.py"))
    assert '"name": "lro.run quick"' in printed
    for metric in ("lro.operations.created", "lro.operations.finished", "lro.wakeup.lag"):
        assert f'"name": "{metric}"' in printed
