"""Lifecycle throughput of ``lro.aio`` against ``lro.Client`` in the same run.

One lifecycle is create, set_metadata, done, one after the other, on SQLite (the default
``synchronous=FULL`` and ``NORMAL``). The asyncio face runs each store call in its
thread pool; the ratio is aio over sync (goal >= 0.8).

    .venv/bin/python -m bench.lifecycle_aio [--rounds N] [--repeats N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

from google.protobuf import struct_pb2, wrappers_pb2

import lro
import lro.aio


def metadata(index: int) -> struct_pb2.Struct:
    return struct_pb2.Struct(fields={"i": struct_pb2.Value(number_value=index)})


def sync_lifecycles(url: str, count: int) -> float:
    """Seconds for ``count`` lifecycles through ``lro.Client``."""
    with lro.Client(url) as client:
        started = time.perf_counter()
        for index in range(count):
            op = client.new_operation()
            op.set_metadata(metadata(index))
            op.done(wrappers_pb2.Int32Value(value=index))
        return time.perf_counter() - started


async def _aio_lifecycles(url: str, count: int) -> float:
    async with lro.aio.Client(url) as client:
        started = time.perf_counter()
        for index in range(count):
            op = await client.new_operation()
            await op.set_metadata(metadata(index))
            await op.done(wrappers_pb2.Int32Value(value=index))
        return time.perf_counter() - started


def aio_lifecycles(url: str, count: int) -> float:
    """Seconds for ``count`` lifecycles through ``lro.aio.Client``."""
    return asyncio.run(_aio_lifecycles(url, count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=0, help="lifecycles per run")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("| synchronous | lifecycles | lro.Client ops/s | lro.aio.Client ops/s | ratio |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for synchronous, default_rounds in (("FULL", 300), ("NORMAL", 2000)):
            count = args.rounds or default_rounds
            sync_times, aio_times = [], []
            for repeat in range(args.repeats):  # interleaved, so that load hits both alike
                url = f"sqlite:///{folder}/{{}}-{synchronous}-{repeat}.db"
                url += f"?synchronous={synchronous}"
                sync_times.append(sync_lifecycles(url.format("sync"), count))
                aio_times.append(aio_lifecycles(url.format("aio"), count))
            sync, aio = statistics.median(sync_times), statistics.median(aio_times)
            print(
                f"| {synchronous} | {count} | {count / sync:,.0f} | {count / aio:,.0f} "
                f"| {sync / aio:.2f} |"
            )


if __name__ == "__main__":
    main()
