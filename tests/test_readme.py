"""The README's example and the Python API reference's examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

from tests.doc_pages import block_with, page, python_blocks, run_script


def test_readme_usage_example_runs(tmp_path: Path) -> None:
    lines = run_script(tmp_path, python_blocks()[0])
    assert re.fullmatch(r"operations/[0-9a-f-]{36}", lines[0])
    assert lines[1] == "42.0"


def test_asyncio_example_runs(tmp_path: Path) -> None:
    block = block_with(page("api"), "lro.aio.Client(")
    assert run_script(tmp_path, block) == ["True"]


def test_names_and_request_ids_example_runs(tmp_path: Path) -> None:
    block = block_with(page("api"), "request_id=request_id")
    assert run_script(tmp_path, block) == [
        "projects/p/operations/nightly-report",
        "taken",
        "True",
        "True",
        "100",
    ]


def test_retention_example_runs(tmp_path: Path) -> None:
    block = block_with(page("retention"), "client.purge(")
    assert run_script(tmp_path, block) == ["0", "1", "False"]
