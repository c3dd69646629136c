"""A process forked while another of its threads writes an operation: the child writes
that operation, through the store it inherited, without waiting for a turn that no
thread of its own will ever hand on.

SQLite only: a child may go on with an inherited SQLite file, while PostgreSQL and
Spanner connections do not survive a fork; the turns are the same for every backend.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from google.rpc import code_pb2

import lro
from lro._store import turns
from lro._store.turns import write_turn

CHILD_SECONDS = 30  # a child that has not written by then waits for ever


def _held_turn(client: lro.Client, name: str) -> contextlib.AbstractContextManager[object]:
    return write_turn(client.store, name)


def _held_registry(_client: lro.Client, _name: str) -> contextlib.AbstractContextManager[object]:
    return turns._registry_lock


@contextlib.contextmanager
def _held_by_another_thread(hold: contextlib.AbstractContextManager[object]) -> Iterator[None]:
    taken, done = threading.Event(), threading.Event()

    def run() -> None:
        with hold:
            taken.set()
            done.wait(60)

    holder = threading.Thread(target=run)
    holder.start()
    assert taken.wait(30)
    try:
        yield
    finally:
        done.set()
        holder.join(30)


def _exit_code(pid: int) -> int | None:
    """The child's exit code; None if it was still running after CHILD_SECONDS."""
    deadline = time.monotonic() + CHILD_SECONDS
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def _in_child(write: Callable[[], bool]) -> None:
    """Run ``write`` in the forked child, then leave at once: 0 if it wrote."""
    code = 1
    try:
        code = 0 if write() else 1
    finally:
        os._exit(code)


@pytest.mark.parametrize("held", [_held_turn, _held_registry], ids=["turn", "registry"])
def test_a_child_forked_while_a_thread_holds_a_turn_writes(
    tmp_path: Path, held: Callable[[lro.Client, str], contextlib.AbstractContextManager[object]]
) -> None:
    with lro.Client(f"sqlite:///{tmp_path}/lro.db", worker=False) as client:
        name = client.new_operation().name
        with _held_by_another_thread(held(client, name)):
            pid = os.fork()
            if pid == 0:
                _in_child(lambda: client.cancel_operation(name).done)
            exit_code = _exit_code(pid)
        assert exit_code == 0, "the child did not write" if exit_code is None else exit_code
        cancelled = client.get_operation(name)
        assert (cancelled.done, cancelled.error.code) == (True, code_pb2.CANCELLED)


def test_a_turn_that_the_forking_thread_holds_ends_in_the_child(tmp_path: Path) -> None:
    with lro.Client(f"sqlite:///{tmp_path}/lro.db", worker=False) as client:
        name = client.new_operation().name
        with contextlib.ExitStack() as turn:
            turn.enter_context(write_turn(client.store, name))
            pid = os.fork()
            if pid == 0:  # the turn ends here too, then the child writes

                def end_the_turn_then_write() -> bool:
                    turn.close()
                    return client.cancel_operation(name).done

                _in_child(end_the_turn_then_write)
        assert _exit_code(pid) == 0
        assert client.get_operation(name).done
