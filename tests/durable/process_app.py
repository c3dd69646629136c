"""The app that worker processes run in the crash and multi-worker tests.

Each resumed run writes to a ledger (a SQLite file of its own): a ``runs`` row after its
work, just before ``op.done``, and a ``completions`` row after ``op.done`` succeeded. The tests read
the ledger to prove what ran, where and how often.
"""

from __future__ import annotations

import os
import time
import uuid

from google.protobuf import struct_pb2

import lro
from tests.durable.ledger import distinct_pids, write

# How long a run that must be shared waits for a run in another process.
SHARE_WAIT = 5.0

client = lro.Client(worker=False)


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
    if state.get("share"):
        _hold_until_shared(op.name, token)
    time.sleep(float(str(state.get("work", 0.02))))
    write(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?)",
        (op.name, token, os.getpid(), started, time.time_ns()),
    )
    op.done(struct_pb2.Struct(fields={"token": struct_pb2.Value(string_value=token)}))
    write("INSERT INTO completions VALUES (?, ?, ?)", (op.name, token, os.getpid()))


def _hold_until_shared(name: str, token: str) -> None:
    """Record the start, then hold this thread until another process has started a run.

    One process's threads are then all held, so the next wake-ups can only be claimed by
    another process: the test of sharing does not depend on which process polls first.
    """
    write("INSERT INTO starts VALUES (?, ?, ?)", (name, token, os.getpid()))
    deadline = time.monotonic() + SHARE_WAIT
    while distinct_pids("starts") < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
