"""The README's usage examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

from tests.readme_blocks import python_blocks, run_script


def run_block(tmp_path: Path, block: str) -> list[str]:
    """Run a python block of the README in ``tmp_path``; returns its output lines."""
    return run_script(tmp_path, block)


def test_readme_usage_example_runs(tmp_path: Path) -> None:
    lines = run_block(tmp_path, python_blocks()[0])
    assert re.fullmatch(r"operations/[0-9a-f-]{36}", lines[0])
    assert lines[1] == "42.0"


def test_readme_asyncio_example_runs(tmp_path: Path) -> None:
    (block,) = [block for block in python_blocks() if "lro.aio.Client(" in block]
    assert run_block(tmp_path, block) == ["True"]


def test_readme_names_and_request_ids_example_runs(tmp_path: Path) -> None:
    (block,) = [block for block in python_blocks() if "request_id=request_id" in block]
    assert run_block(tmp_path, block) == [
        "projects/p/operations/nightly-report",
        "taken",
        "True",
        "True",
        "100",
    ]


def test_readme_retention_example_runs(tmp_path: Path) -> None:
    (block,) = [block for block in python_blocks() if "client.purge(" in block]
    assert run_block(tmp_path, block) == ["0", "1", "False"]
