"""Under CI=true a skip fails the run, whether a test or a whole module skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# A test file that skips, and pytest's exit status outside CI and in it (0: passed;
# 5: no test ran; 1: a test failed; 2: collecting failed).
SKIPPING = {
    "test_skips_inside.py": (
        "import pytest\n\ndef test_x():\n    pytest.skip('down')\n",
        0,
        1,
    ),
    "test_skips_module.py": ("import pytest\n\npytest.importorskip('no_such_module_here')\n", 5, 2),
}


def _run(folder: Path, ci: str) -> subprocess.CompletedProcess[str]:
    (folder / "pytest.ini").write_text("[pytest]\n")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.ci_skips", "-p", "no:cacheprovider", "-q"],
        cwd=folder,
        env={**os.environ, "CI": ci, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("name", sorted(SKIPPING))
def test_a_skip_fails_under_ci_and_stays_a_skip_elsewhere(tmp_path: Path, name: str) -> None:
    source, status_outside_ci, status_in_ci = SKIPPING[name]
    (tmp_path / name).write_text(source)
    outside = _run(tmp_path, "")
    assert outside.returncode == status_outside_ci, outside.stdout
    assert "1 skipped" in outside.stdout
    inside = _run(tmp_path, "true")
    assert inside.returncode == status_in_ci, inside.stdout
    assert "skipped under CI=true" in inside.stdout
    assert "skipped" not in inside.stdout.splitlines()[-1]
