"""bench/dbos_two_step.py compares like with like: each DBOS workflow it runs ends
SUCCESS with its two steps checkpointed, and each lro operation ends done with the
response after two metadata writes, both sides durable (``synchronous=FULL``)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from bench.dbos_two_step import lro_two_steps
from google.protobuf import struct_pb2, wrappers_pb2

import lro

REPO = Path(__file__).resolve().parents[2]
RUN_DBOS = (
    "import sys; from bench.dbos_two_step import dbos_two_steps, launched_dbos\n"
    "with launched_dbos(sys.argv[1]): dbos_two_steps(0, 3)"
)


def test_each_dbos_workflow_checkpoints_two_steps(tmp_path: Path) -> None:
    database = tmp_path / "dbos.sqlite"
    subprocess.run(  # DBOS is a process-wide singleton: keep it out of the test process
        [sys.executable, "-c", RUN_DBOS, f"sqlite:///{database}"],
        cwd=REPO,
        check=True,
        timeout=120,
        capture_output=True,
    )
    with sqlite3.connect(database) as connection:
        statuses = connection.execute("SELECT status, name FROM workflow_status").fetchall()
        steps = connection.execute(
            "SELECT workflow_uuid, function_name FROM operation_outputs ORDER BY function_id"
        ).fetchall()
        synchronous = connection.execute("PRAGMA synchronous").fetchone()[0]
    assert statuses == [("SUCCESS", "two_steps")] * 3
    assert sorted(name for _, name in steps) == ["first_step"] * 3 + ["second_step"] * 3
    assert len({workflow for workflow, _ in steps}) == 3
    assert synchronous == 2  # FULL, SQLite's default, which DBOS keeps


def test_each_lro_operation_ends_done_after_two_steps(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/lro.db"
    with lro.Client(url) as client:
        lro_two_steps(client, 0, 3)
        operations, _ = client.list_operations()
    assert len(operations) == 3
    for operation in operations:
        progress, response = struct_pb2.Struct(), wrappers_pb2.Int32Value()
        assert operation.done
        assert operation.metadata.Unpack(progress)
        assert progress["step"] == 2
        assert operation.response.Unpack(response)
