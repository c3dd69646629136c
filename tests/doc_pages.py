"""The python blocks of the README and of the reference pages in docs/reference/, and
running one as a script the way a reader would."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
REFERENCE = ROOT / "docs" / "reference"


def page(name: str) -> str:
    """The text of a reference page, ``name`` without its ``.md``."""
    return (REFERENCE / f"{name}.md").read_text()


def python_blocks(text: str | None = None) -> list[str]:
    """The python blocks of ``text`` (default: the whole README)."""
    source = README.read_text() if text is None else text
    blocks: list[str] = re.findall(r"```python\n(.*?)```", source, re.DOTALL)
    assert blocks, "no python example"
    return blocks


def block_with(text: str, marker: str) -> str:
    """The one python block of ``text`` that contains ``marker``."""
    (block,) = [block for block in python_blocks(text) if marker in block]
    return block


def section(text: str, heading: str) -> str:
    """The part of ``text`` from the ``## heading`` line to the next ``## `` heading."""
    return text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def run_script(
    tmp_path: Path,
    code: str,
    name: str = "example.py",
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> list[str]:
    """Run ``code`` as ``tmp_path/name`` with ``tmp_path`` as the working folder (and
    ``env``, default this process's environment); assert it exits 0 within ``timeout``
    seconds and return its output lines."""
    script = tmp_path / name
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()
