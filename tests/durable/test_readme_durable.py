"""The README's durable-wait example runs as written."""

from __future__ import annotations

from pathlib import Path

from tests.readme_blocks import python_blocks, run_script


def test_readme_durable_example_runs(tmp_path: Path) -> None:
    (example,) = [block for block in python_blocks() if "resume_at=" in block]
    assert run_script(tmp_path, example, "durable_example.py") == ["42"]
