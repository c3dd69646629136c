"""A durable two-step operation: lro against DBOS Transact, on SQLite, in one run.

lro's side is ``new_operation``, two ``set_metadata`` (the steps' progress) and
``done(response)`` on the default store (WAL, ``synchronous=FULL``). DBOS's side is a
``@DBOS.workflow`` that calls two ``@DBOS.step`` functions and returns their result, on
DBOS's default system database (SQLite, with its default journal and
``synchronous=FULL``). Each round opens both on fresh databases and lets them take turns
every ``--chunk`` operations, so that load on the machine falls on both alike. Prints
operations per second of each and lro's ratio to DBOS per round (the goal: at least 10
on every round).

    .venv/bin/python -m bench.dbos_two_step [--count 300] [--rounds 5] [--chunk 20]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from dbos import DBOS
from google.protobuf import struct_pb2, wrappers_pb2

import lro


def _progress(step: int) -> struct_pb2.Struct:
    return struct_pb2.Struct(fields={"step": struct_pb2.Value(number_value=step)})


def lro_two_steps(client: lro.Client, first: int, count: int) -> float:
    """Seconds for ``count`` two-step operations through ``client``."""
    started = time.perf_counter()
    for index in range(first, first + count):
        op = client.new_operation()
        op.set_metadata(_progress(1))
        op.set_metadata(_progress(2))
        op.done(wrappers_pb2.Int32Value(value=index))
    return time.perf_counter() - started


@DBOS.step()
def first_step(index: int) -> int:
    return index


@DBOS.step()
def second_step(value: int) -> int:
    return value + 1


@DBOS.workflow()
def two_steps(index: int) -> int:
    return second_step(first_step(index))


def dbos_two_steps(first: int, count: int) -> float:
    """Seconds for ``count`` runs of a two-step DBOS workflow (DBOS launched)."""
    started = time.perf_counter()
    for index in range(first, first + count):
        assert two_steps(index) == index + 1
    return time.perf_counter() - started


@contextlib.contextmanager
def launched_dbos(url: str) -> Iterator[None]:
    """DBOS launched on the system database ``url``, destroyed on exit."""
    DBOS(config={"name": "lro-bench", "system_database_url": url, "log_level": "WARNING"})
    DBOS.launch()
    try:
        yield
    finally:
        DBOS.destroy(destroy_registry=False)


def one_round(folder: Path, count: int, chunk: int) -> tuple[float, float]:
    """Operations per second of lro and of DBOS, in fresh databases under ``folder``. The
    two take turns every ``chunk`` operations, so that both see the same load."""
    seconds = {"lro": 0.0, "dbos": 0.0}
    with (
        lro.Client(f"sqlite:///{folder}/lro.db") as client,
        launched_dbos(f"sqlite:///{folder}/dbos.sqlite"),
    ):
        for first in range(0, count, chunk):
            size = min(chunk, count - first)
            seconds["lro"] += lro_two_steps(client, first, size)
            seconds["dbos"] += dbos_two_steps(first, size)
    return count / seconds["lro"], count / seconds["dbos"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="operations per side per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=20, help="operations per turn")
    args = parser.parse_args()
    logging.getLogger("dbos").setLevel(logging.WARNING)
    ratios = []
    for number in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory() as folder:
            lro_rate, dbos_rate = one_round(Path(folder), args.count, args.chunk)
        ratios.append(lro_rate / dbos_rate)
        print(
            f"round {number}: lro {lro_rate:8.1f} ops/s   DBOS {dbos_rate:7.1f} ops/s"
            f"   ratio {ratios[-1]:5.2f}"
        )
    print(f"ratio lro/DBOS: min {min(ratios):.2f}, median {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
