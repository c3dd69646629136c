"""A change made in another process wakes a waiter here: NOTIFY or data_version."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import lro

FINISH_IN_ANOTHER_PROCESS = textwrap.dedent(
    """
    import sys, time
    import lro
    from google.protobuf import wrappers_pb2
    time.sleep(0.3)
    with lro.Client(sys.argv[1]) as client:
        op = client.new_operation(existing=sys.argv[2])
        op.done(wrappers_pb2.StringValue(value="from afar"))
    """
)


def test_a_child_finished_by_another_process_wakes_the_wait(
    client: lro.Client, store_url: str
) -> None:
    parent = client.new_operation()
    child = client.new_operation()
    finisher = subprocess.Popen(
        [sys.executable, "-c", FINISH_IN_ANOTHER_PROCESS, store_url, child.name]
    )
    try:
        started = time.monotonic()
        # poll_frequency 60 s: only a notification from the other process can end this
        # wait before its 20 s timeout.
        finished = parent.wait(children=[child.name], timeout=20, poll_frequency=60)
        waited = time.monotonic() - started
    finally:
        assert finisher.wait(timeout=30) == 0
    assert finished[child.name].done
    assert waited < 15
