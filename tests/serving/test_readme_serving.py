"""The README's serving example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

from tests.readme_blocks import python_blocks, run_script, section


def test_readme_serving_example_runs(tmp_path: Path) -> None:
    block = python_blocks(section("Serving `google.longrunning.Operations`"))[0]
    (line,) = run_script(tmp_path, block, "serving.py")
    assert re.fullmatch(r"serving on 127\.0\.0\.1:\d+", line)
