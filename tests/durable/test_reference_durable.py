"""The durable-wait example of the reference (docs/reference/durable-waits.md) runs as
written."""

from __future__ import annotations

from pathlib import Path

from tests.doc_pages import block_with, page, run_script


def test_durable_example_runs(tmp_path: Path) -> None:
    example = block_with(page("durable-waits"), "resume_at=")
    assert run_script(tmp_path, example, "durable_example.py") == ["42"]
