"""Many concurrent ``await op.wait(children=[...])`` in one process, children finished by
another process.

Prints, for the backend: the time from the last child's commit (in the other process)
until every waiter has returned, the store reads made while nothing changed (a quiet
window with every waiter waiting), and the peak RSS growth of this process.

    .venv/bin/python -m bench.aio_waits [--backend sqlite|postgresql] [--waiters N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import lro.aio

CHILDREN = 10
QUIET_SECONDS = 2.0
FINISH_CHILDREN = """
import sys, time
import lro
with lro.Client(sys.argv[1], worker=False) as client:
    for name in sys.argv[2:]:
        client.new_operation(existing=name).done()
    print(time.time(), flush=True)
"""


def peak_rss_mb() -> float:
    """This process's peak resident set, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class CountingReads:
    """Counts the store reads of the waits (``get_many`` calls: one query each)."""

    def __init__(self, store: Any) -> None:
        self.count = 0
        self._read = store.get_many
        store.get_many = self._counted

    def _counted(self, names: Any) -> Any:
        self.count += 1
        return self._read(names)


async def run(url: str, waiters: int) -> dict[str, float]:
    """The figures of one run on the store at ``url``."""
    rss_before = peak_rss_mb()
    async with lro.aio.Client(url, worker=False) as client:
        children = [(await client.new_operation()).name for _ in range(CHILDREN)]
        parents = [await client.new_operation() for _ in range(waiters)]
        reads = CountingReads(client.store)
        waits = [
            asyncio.create_task(op.wait(children=children, timeout=600, poll_frequency=600))
            for op in parents
        ]
        settled = -1
        while reads.count != settled:  # every waiter has read, and now waits
            settled = reads.count
            await asyncio.sleep(0.5)
        before_quiet = reads.count
        await asyncio.sleep(QUIET_SECONDS)
        quiet_reads = reads.count - before_quiet
        finisher = await asyncio.create_subprocess_exec(
            sys.executable, "-c", FINISH_CHILDREN, url, *children, stdout=subprocess.PIPE
        )
        output, _ = await finisher.communicate()
        await asyncio.gather(*waits)
        returned = time.time()
        last_commit = float(output.decode().split()[-1])
    return {
        "wake_all_s": returned - last_commit,
        "quiet_reads": quiet_reads,
        "rss_growth_mb": peak_rss_mb() - rss_before,
    }


@contextlib.contextmanager
def store_url(backend: str) -> Iterator[str]:
    """A fresh store of ``backend``."""
    if backend == "postgresql":
        from bench._postgres import schema_url, scratch_database

        with scratch_database() as database:
            yield schema_url(database, "waits")
        return
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{folder}/waits.db"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--waiters", type=int, default=10_000)
    args = parser.parse_args()
    with store_url(args.backend) as url:
        figures = asyncio.run(run(url, args.waiters))
    print(
        "| backend | waiters | last commit to all returned | reads while quiet | peak RSS growth |"
    )
    print("|---|---|---|---|---|")
    print(
        f"| {args.backend} | {args.waiters:,} | {figures['wake_all_s']:.2f} s "
        f"| {figures['quiet_reads']:.0f} in {QUIET_SECONDS:g} s "
        f"| {figures['rss_growth_mb']:.0f} MB |"
    )


if __name__ == "__main__":
    main()
