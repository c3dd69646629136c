"""Running the ``lro`` command in a subprocess, as a user would."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def run_lro(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m lro.cli *args``, its output captured as text (a minute at most)."""
    return subprocess.run(
        [sys.executable, "-m", "lro.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env=env,
    )
