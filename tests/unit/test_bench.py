"""The benchmarks measure what they say: same rows as the baseline, every script run."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from bench.lifecycle_sqlite import api_lifecycles, raw_lifecycles
from google.longrunning.operations_proto_pb2 import Operation

REPO = Path(__file__).resolve().parents[2]
TIME_COLUMNS = {"create_time_us", "update_time_us"}


def _final_rows(path: Path) -> list[dict[str, object]]:
    """The stored rows, without their names and times, the operation decoded."""
    with sqlite3.connect(path) as connection:
        connection.row_factory = sqlite3.Row
        rows = [dict(row) for row in connection.execute("SELECT * FROM lro_operations")]
    for row in rows:
        operation = Operation.FromString(bytes(row.pop("operation")))
        operation.ClearField("name")
        row.update(operation=operation, name=None)
        for column in TIME_COLUMNS:
            row.pop(column)
    return rows


def test_the_raw_sqlite_baseline_writes_the_rows_lro_writes(tmp_path: Path) -> None:
    api_lifecycles(f"sqlite:///{tmp_path}/api.db?synchronous=OFF", 3)
    raw_lifecycles(tmp_path / "raw.db", "OFF", 3)
    api_rows, raw_rows = _final_rows(tmp_path / "api.db"), _final_rows(tmp_path / "raw.db")
    assert len(api_rows) == 3
    assert all(row["operation"].HasField("metadata") for row in api_rows)  # type: ignore[attr-defined]
    assert sorted(map(repr, raw_rows)) == sorted(map(repr, api_rows))


def test_make_bench_runs_every_benchmark() -> None:
    recipe = re.search(r"^bench:.*\n((?:\t.*\n)+)", (REPO / "Makefile").read_text(), re.M)
    assert recipe is not None
    run = set(re.findall(r"-m bench\.(\w+)", recipe.group(1)))
    scripts = {
        path.stem
        for path in (REPO / "bench").glob("*.py")
        if 'if __name__ == "__main__":' in path.read_text()
    }
    assert scripts == run
