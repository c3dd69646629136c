"""The README's OpenTelemetry set-up works as written: with it, a handler run prints
its span and the metrics print their names."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
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


def test_the_readme_set_up_reports_spans_and_metrics(tmp_path: Path) -> None:
    section = README.read_text().split("## Tracing and metrics (OpenTelemetry)", 1)[1]
    (set_up,) = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.DOTALL)
    assert len(set_up.strip().splitlines()) <= 10
    script = tmp_path / "traced.py"
    script.write_text(set_up + THEN)
    ran = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert '"name": "lro.run quick"' in ran.stdout
    for metric in ("lro.operations.created", "lro.operations.finished", "lro.wakeup.lag"):
        assert f'"name": "{metric}"' in ran.stdout
