"""Running one action in several threads released together by a barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def at_once(count: int, action: Callable[[], T], timeout: float = 60) -> list[T | BaseException]:
    """Run ``action`` in ``count`` threads that start it together; returns what each
    returned or raised (in the order they ended)."""
    barrier = threading.Barrier(count)
    results: list[T | BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait(timeout)
        try:
            result: T | BaseException = action()
        except BaseException as exc:
            result = exc
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert len(results) == count, "a racing thread did not end"
    return results
