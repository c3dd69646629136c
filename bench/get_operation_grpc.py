"""GetOperation over gRPC on 127.0.0.1: ``lro serve`` against a bare ``grpc.server``.

The goal's ratio (``GOALS.md``): ``lro serve`` on a SQLite file against a bare
``grpc.server`` with as many threads as the client has, whose GetOperation answers the
same operations from a dict in memory. Each server runs in a process of its own; the
same 100 operations are read with ``--threads`` client threads through an Operations
stub on one channel, and directly through ``lro.Client.get_operation`` on the same
file. The readers take turns ``--rounds`` times, ``--seconds`` each; medians. A third
server, ``grpc.server`` with 64 threads and ``OperationsServicer(max_waits=48)`` (the
threaded layout ``lro serve`` could have), is measured in the same turns.

Prints requests per second for each and two ratios: ``lro serve`` against the dict
server (the goal: >= 0.8), and against the direct read.

    .venv/bin/python -m bench.get_operation_grpc [--seconds 5] [--threads 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent import futures

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import grpc.aio
from google.protobuf import struct_pb2

import lro

OPERATIONS = 100
THREADED_THREADS = 64
MAX_WAITS = 48


def requests_per_second(
    read: Callable[[str], object], names: list[str], threads: int, seconds: float
) -> float:
    """Reads per second of ``threads`` threads calling ``read`` for ``seconds``."""
    counts = [0] * threads
    stop = threading.Event()

    def run(slot: int) -> None:
        index = slot
        while not stop.is_set():
            read(names[index % len(names)])
            index += 1
            counts[slot] += 1

    workers = [threading.Thread(target=run, args=(slot,)) for slot in range(threads)]
    for worker in workers:
        worker.start()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    return sum(counts) / seconds


class DictServicer(operations_grpc.OperationsServicer):
    """GetOperation from a dict in memory: the baseline."""

    def __init__(self, operations: dict[str, operations_pb2.Operation]) -> None:
        self.operations = operations

    def GetOperation(  # noqa: N802 (the RPC's name)
        self, request: operations_pb2.GetOperationRequest, context: grpc.ServicerContext
    ) -> operations_pb2.Operation:
        return self.operations[request.name]


class AsyncDictServicer(operations_grpc.OperationsServicer):
    """GetOperation from a dict in memory, on ``grpc.aio``: what no store call costs."""

    def __init__(self, operations: dict[str, operations_pb2.Operation]) -> None:
        self.operations = operations

    async def GetOperation(  # noqa: N802 (the RPC's name)
        self, request: operations_pb2.GetOperationRequest, context: grpc.ServicerContext
    ) -> operations_pb2.Operation:
        return self.operations[request.name]


def _operations(client: lro.Client) -> dict[str, operations_pb2.Operation]:
    names = [op.name for op in client.list_operations(page_size=OPERATIONS)[0]]
    return {name: client.get_operation(name) for name in names}


async def _serve_aio_dict(operations: dict[str, operations_pb2.Operation]) -> None:
    server = grpc.aio.server()
    operations_grpc.add_OperationsServicer_to_server(  # type: ignore[no-untyped-call]
        AsyncDictServicer(operations), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"lro: gRPC on 127.0.0.1:{port}", flush=True)
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGTERM, lambda: asyncio.ensure_future(server.stop(0))
    )
    await server.wait_for_termination()


def _serve(kind: str, url: str, threads: int) -> None:
    """Serve ``kind`` (``dict``, ``aio dict`` or ``threaded``) on a free port until
    SIGTERM."""
    from lro.serving import OperationsServicer

    with lro.Client(url, worker=False) as client:
        if kind == "aio dict":
            asyncio.run(_serve_aio_dict(_operations(client)))
            return
        if kind == "dict":
            operations = _operations(client)
            server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads))
            operations_grpc.add_OperationsServicer_to_server(  # type: ignore[no-untyped-call]
                DictServicer(operations), server
            )
        else:
            server = grpc.server(futures.ThreadPoolExecutor(max_workers=THREADED_THREADS))
            OperationsServicer(client, max_waits=MAX_WAITS).add_to_server(server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        print(f"lro: gRPC on 127.0.0.1:{port}", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
        server.wait_for_termination()


def _start_server(kind: str, url: str, threads: int) -> tuple[subprocess.Popen[str], str]:
    if kind == "lro serve":
        command = [sys.executable, "-m", "lro.cli", "serve", "--db", url]
        command += ["--grpc-port", "0", "--http-port", "0"]
    else:
        command = [sys.executable, "-m", "bench.get_operation_grpc", "--serve", kind, url]
        command += ["--threads", str(threads)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    match = re.search(r"gRPC on (\S+)", process.stdout.readline())
    assert match, f"{kind} did not start"
    return process, match.group(1)


def grpc_rate(kind: str, url: str, names: list[str], threads: int, seconds: float) -> float:
    """GetOperation per second of ``threads`` threads on one channel to server ``kind``."""
    process, address = _start_server(kind, url, threads)
    try:
        with grpc.insecure_channel(address) as channel:
            stub = operations_grpc.OperationsStub(channel)  # type: ignore[no-untyped-call]

            def over_grpc(name: str) -> object:
                return stub.GetOperation(operations_pb2.GetOperationRequest(name=name))

            over_grpc(names[0])  # connect
            return requests_per_second(over_grpc, names, threads, seconds)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", nargs=2, metavar=("KIND", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        kind, url = args.serve
        _serve(kind, url, args.threads)
        return
    kinds = ("dict", "lro serve", "threaded", "aio dict")
    rates: dict[str, list[float]] = {kind: [] for kind in (*kinds, "direct")}
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/get.db"
        with lro.Client(url, worker=False) as client:
            metadata = struct_pb2.Struct()
            metadata.update({"progress": 0.5, "step": "copying"})
            names = [client.new_operation(metadata=metadata).name for _ in range(OPERATIONS)]
            for _ in range(args.rounds):
                for kind in kinds:
                    rates[kind].append(grpc_rate(kind, url, names, args.threads, args.seconds))
                rates["direct"].append(
                    requests_per_second(client.get_operation, names, args.threads, args.seconds)
                )
    median = {kind: statistics.median(runs) for kind, runs in rates.items()}
    print(f"GetOperation/s, {args.threads} client threads, median of {args.rounds}\n")
    print("| reader | requests/s | ratio to the dict server (goal >= 0.8) | ratio to direct |")
    print("|---|---|---|---|")
    labels = {
        "dict": f"bare grpc.server, {args.threads} threads, dict in memory",
        "lro serve": "lro serve (grpc.aio, AsyncOperationsServicer)",
        "threaded": f"grpc.server, {THREADED_THREADS} threads, OperationsServicer(max_waits="
        f"{MAX_WAITS})",
        "aio dict": "grpc.aio, dict in memory (no store call)",
        "direct": "direct lro.Client.get_operation",
    }
    for kind, label in labels.items():
        rate = median[kind]
        print(
            f"| {label} | {rate:,.0f} | {rate / median['dict']:.2f} "
            f"| {rate / median['direct']:.2f} |"
        )
    runs = ", ".join(
        f"{kind}: " + " / ".join(f"{rate:,.0f}" for rate in rates[kind]) for kind in rates
    )
    print(f"\nEach run: {runs}")


if __name__ == "__main__":
    main()
