"""Every guide in docs/ runs as written, and prints what it says it prints.

A guide's ``python`` blocks are one program, run in order in a fresh working folder by
this interpreter; a block whose first line is ``# file: NAME`` is written to NAME there
instead (a module that the program imports or starts). The program's output must be the
guide's ``text`` blocks, in order. The PostgreSQL and Spanner guides find their store in
``$LRO_DATABASE_URL``, which the test points at the test session's server.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import fresh_postgres_url, fresh_spanner_url

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
GUIDES = sorted(path.name for path in DOCS.glob("*.md") if path.name != "README.md")
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
FILE_HEADER = re.compile(r"# file: (\S+)\n")


def _blocks(text: str, language: str) -> list[str]:
    return [body for kind, body in BLOCK.findall(text) if kind == language]


def _program(guide: str, folder: Path) -> tuple[Path, str]:
    """Writes the guide's program (and its files) into ``folder``; returns the program
    and the output the guide shows."""
    text = (DOCS / guide).read_text()
    main = []
    for body in _blocks(text, "python"):
        header = FILE_HEADER.match(body)
        if header:
            (folder / header.group(1)).write_text(body)
        else:
            main.append(body)
    assert main, f"{guide} has no python program"
    program = folder / "guide.py"
    program.write_text("\n".join(main))
    return program, "".join(_blocks(text, "text"))


def _store_url(guide: str, request: pytest.FixtureRequest) -> str | None:
    if guide == "postgresql.md":
        return fresh_postgres_url(request.getfixturevalue("postgres_database_url"))
    if guide == "spanner.md":
        return fresh_spanner_url(request.getfixturevalue("spanner_database"))
    return None


@pytest.mark.parametrize("guide", GUIDES)
def test_guide_runs_as_written(guide: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    program, shown = _program(guide, tmp_path)
    url = _store_url(guide, request)  # first: the Spanner fixture sets its variables
    env = {key: value for key, value in os.environ.items() if key != "LRO_DATABASE_URL"}
    if url is not None:
        env["LRO_DATABASE_URL"] = url
    result = subprocess.run(
        [sys.executable, str(program)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == shown


def test_the_readme_links_every_guide() -> None:
    readme = (ROOT / "README.md").read_text()
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)\)", readme))
    assert linked == set(GUIDES)
