"""Writers of one operation in one process take turns, first come, first served."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from lro._store import turns
from lro._store.turns import write_turn

STORE = object()


def _wait_until(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_one_writer_at_a_time_and_none_left_registered() -> None:
    inside, most, lock = [0], [0], threading.Lock()
    barrier = threading.Barrier(8)

    def write() -> None:
        barrier.wait()
        for _ in range(200):
            with write_turn(STORE, "operations/a"):
                with lock:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                with lock:
                    inside[0] -= 1

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert most == [1]
    assert turns._registry == {}


def test_turns_pass_in_arrival_order_and_carry_the_latest() -> None:
    entered: list[int] = []
    with write_turn(STORE, "operations/a") as held:
        held.latest = "v2"
        waiters: list[threading.Thread] = []
        for index in range(5):
            thread = threading.Thread(target=_take_turn, args=(index, entered))
            thread.start()
            _wait_until(lambda: len(held._waiting) == len(waiters) + 1)
            waiters.append(thread)
        with write_turn(STORE, "operations/b"):  # another operation: not blocked
            pass
    for thread in waiters:
        thread.join(10)
    assert entered == [0, 1, 2, 3, 4]
    assert turns._registry == {}


def _take_turn(index: int, entered: list[int]) -> None:
    with write_turn(STORE, "operations/a") as turn:
        assert turn.latest == "v2"
        entered.append(index)
