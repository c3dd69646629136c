"""The README's mypy setting is what a user's project needs to import lro's protos."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
USER_MODULE = """\
from google.longrunning import operations_proto_pb2

import lro


def start(client: lro.Client) -> operations_proto_pb2.Operation:
    return client.new_operation().return_rpc()
"""


def _readme_mypy_setting() -> str:
    section = (ROOT / "README.md").read_text().split("**Type checking your code.**", 1)[1]
    block = re.search(r"```toml\n(.*?)```", section, re.DOTALL)
    assert block, "the README shows no mypy setting"
    return block.group(1)


def _mypy(folder: Path, config: str) -> subprocess.CompletedProcess[str]:
    (folder / "pyproject.toml").write_text(f"[tool.mypy]\nstrict = true\n\n{config}")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(folder / ".mypy_cache"), "app.py"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_readme_setting_lets_strict_mypy_read_the_protos(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(USER_MODULE)
    without = _mypy(tmp_path, "")
    assert without.returncode == 1
    assert "missing library stubs or py.typed marker" in without.stdout
    with_setting = _mypy(tmp_path, _readme_mypy_setting())
    assert with_setting.returncode == 0, with_setting.stdout
