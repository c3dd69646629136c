"""``lro demo`` (what ``make demo`` runs) finishes its operation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_demo_prints_a_finished_operation(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lro.cli", "demo", "--db", f"sqlite:///{tmp_path}/demo.db"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    first, final = result.stdout.split("finished:\n")
    returned = json.loads(first.split("returned to the caller at once:\n")[1])
    finished = json.loads(final)
    assert returned["name"] == finished["name"]
    assert not returned.get("done")
    assert finished["done"] is True
    assert finished["metadata"]["value"] == {"step": "done", "percent": 100.0}
    response = finished["response"]["value"]
    assert len(response["children"]) == 2
    assert response["all_succeeded"] is True
