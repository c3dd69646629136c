"""The serving example of the reference (docs/reference/serving.md) runs as written."""

from __future__ import annotations

import re
from pathlib import Path

from tests.doc_pages import page, python_blocks, run_script


def test_serving_example_runs(tmp_path: Path) -> None:
    block = python_blocks(page("serving"))[0]
    (line,) = run_script(tmp_path, block, "serving.py")
    assert re.fullmatch(r"serving on 127\.0\.0\.1:\d+", line)
