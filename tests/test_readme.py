"""The README's usage examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def run_block(tmp_path: Path, block: str) -> list[str]:
    """Run a python block of the README in ``tmp_path``; returns its output lines."""
    script = tmp_path / "example.py"
    script.write_text(block)
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def python_blocks() -> list[str]:
    """The python blocks of the README."""
    blocks: list[str] = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert blocks, "the README has no python example"
    return blocks


def test_readme_usage_example_runs(tmp_path: Path) -> None:
    lines = run_block(tmp_path, python_blocks()[0])
    assert re.fullmatch(r"operations/[0-9a-f-]{36}", lines[0])
    assert lines[1] == "42.0"


def test_readme_asyncio_example_runs(tmp_path: Path) -> None:
    (block,) = [block for block in python_blocks() if "lro.aio.Client(" in block]
    assert run_block(tmp_path, block) == ["True"]


def test_readme_retention_example_runs(tmp_path: Path) -> None:
    (block,) = [block for block in python_blocks() if "client.purge(" in block]
    assert run_block(tmp_path, block) == ["0", "1", "False"]
