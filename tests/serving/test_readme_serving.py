"""The README's serving example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parent.parent.parent / "README.md"


def test_readme_serving_example_runs(tmp_path: Path) -> None:
    section = README.read_text().split("## Serving", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert block, "the serving section has no python example"
    script = tmp_path / "serving.py"
    script.write_text(block.group(1))
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"serving on 127\.0\.0\.1:\d+\n", result.stdout)
