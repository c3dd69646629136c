"""The app that worker processes run in the crash and multi-worker tests.

Each handler run writes to a ledger (a SQLite file of its own): a ``runs`` row when the
resumed handler starts, a ``completions`` row after ``op.done`` succeeded. The tests read
the ledger to prove what ran, where and how often.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import uuid

from google.protobuf import struct_pb2

import lro

LEDGER_ENV = "LRO_TEST_LEDGER"
LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (name TEXT, token TEXT, pid INTEGER, start_ns INTEGER,
                                 end_ns INTEGER);
CREATE TABLE IF NOT EXISTS completions (name TEXT, token TEXT, pid INTEGER);
"""

client = lro.Client(worker=False)


def ledger(path: str | None = None) -> sqlite3.Connection:
    """A connection to the ledger (default: the file named by ``$LRO_TEST_LEDGER``)."""
    connection = sqlite3.connect(path or os.environ[LEDGER_ENV], timeout=30, isolation_level=None)
    connection.executescript(LEDGER_SCHEMA)
    return connection


def _write(sql: str, values: tuple[object, ...]) -> None:
    with contextlib.closing(ledger()) as connection:
        connection.execute(sql, values)


@client.resumable("waiter", state_type=dict)
def waiter(op: lro.Operation[dict[str, object]]) -> None:
    """Wait (a sleep, or a child), then finish, recording the run in the ledger."""
    state = op.state
    if op.resume_point == "":
        child = str(state.get("child", ""))
        if child:
            op.wait(children=[child], timeout=120, poll_frequency=0.2, resume_at="after")
        else:
            op.wait(sleep=float(str(state["sleep"])), resume_at="after")
        return
    token = uuid.uuid4().hex
    started = time.time_ns()
    time.sleep(float(str(state.get("work", 0.02))))
    _write(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?)",
        (op.name, token, os.getpid(), started, time.time_ns()),
    )
    op.done(struct_pb2.Struct(fields={"token": struct_pb2.Value(string_value=token)}))
    _write("INSERT INTO completions VALUES (?, ?, ?)", (op.name, token, os.getpid()))
