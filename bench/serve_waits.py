"""Reads while WaitOperation calls are open, on a threaded gRPC server and on ``lro serve``.

Every server runs in a process of its own on one SQLite file of running operations:

- ``threaded``: ``grpc.server`` with 64 threads and ``OperationsServicer`` (the layout of
  ``lro serve`` before it moved to ``grpc.aio``);
- ``threaded, max_waits=48``: the same, with the bound on waits in flight;
- ``lro serve``: ``grpc.aio`` and uvicorn on one asyncio loop;
- ``aio, uvicorn thread``: ``grpc.aio`` on the main loop and uvicorn on a thread and a
  loop of its own (the other layout that ``lro serve`` could have).

Prints three tables:

1. the median latency of ``--gets`` GetOperation calls made while N WaitOperation calls
   (no deadline, on running operations, on the same channel) are open; a Get that gets
   no answer within ``--deadline`` seconds counts as that deadline;
2. GetOperation per second with no wait open (``--threads`` client threads), each layout
   against ``threaded`` in the same run;
3. gRPC GetOperation and HTTP GET per second at once (``--threads`` threads each), for
   the two asyncio layouts.

The layouts of tables 2 and 3 take turns ``--rounds`` times; they print medians.

    .venv/bin/python -m bench.serve_waits [--waits 0,50,200] [--seconds 5] [--threads 4]
        [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent import futures

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import grpc.aio
import requests

import lro
from bench.get_operation_grpc import requests_per_second

OPERATIONS = 100
THREADS = 64  # the threaded layout's pool: what lro serve had
MAX_WAITS = 48
LAYOUTS = {
    "threaded": "threaded",
    f"threaded, max_waits={MAX_WAITS}": "bounded",
    "lro serve": "lro-serve",
    "aio, uvicorn thread": "http-thread",
}


def _serve_threaded(url: str, max_waits: int | None) -> None:
    from lro.serving import OperationsServicer

    with lro.Client(url) as client:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=THREADS))
        OperationsServicer(client, max_waits=max_waits).add_to_server(server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        print(f"lro: gRPC on 127.0.0.1:{port}", flush=True)
        server.wait_for_termination()


async def _serve_http_thread(url: str) -> None:
    import uvicorn

    from lro.cli._serve import http_socket
    from lro.serving import AsyncOperationsServicer, http_app

    with lro.Client(url) as client:
        server = grpc.aio.server()
        AsyncOperationsServicer(client).add_to_server(server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        listener = http_socket("127.0.0.1", 0)
        print(f"lro: gRPC on 127.0.0.1:{port}", flush=True)
        print(f"lro: HTTP on http://127.0.0.1:{listener.getsockname()[1]}", flush=True)
        config = uvicorn.Config(http_app(client), log_level="warning", lifespan="off")
        http = uvicorn.Server(config)
        threading.Thread(target=http.run, args=([listener],), daemon=True).start()
        await server.wait_for_termination()


def serve(layout: str, url: str) -> None:
    """Run the server of ``layout`` (not ``lro-serve``) until SIGTERM."""
    if layout == "http-thread":
        asyncio.run(_serve_http_thread(url))
    else:
        _serve_threaded(url, MAX_WAITS if layout == "bounded" else None)


class Server:
    """A server of one layout in a process of its own."""

    def __init__(self, layout: str, url: str) -> None:
        if layout == "lro-serve":
            command = [sys.executable, "-m", "lro.cli", "serve", "--db", url]
            command += ["--grpc-port", "0", "--http-port", "0"]
        else:
            command = [sys.executable, "-m", "bench.serve_waits", "--serve", layout, url]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        found = re.search(r"gRPC on (\S+)", self.process.stdout.readline())
        assert found, f"{layout} did not start"
        self.grpc_address = found.group(1)
        self.http_url = ""
        if layout in ("lro-serve", "http-thread"):
            http = re.search(r"HTTP on (\S+)", self.process.stdout.readline())
            assert http, f"{layout} printed no HTTP address"
            self.http_url = http.group(1)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)


@contextlib.contextmanager
def running(layout: str, url: str) -> Iterator[Server]:
    server = Server(layout, url)
    try:
        yield server
    finally:
        server.stop()


def get_latency(server: Server, names: list[str], waits: int, gets: int, deadline: float) -> float:
    """Median seconds of ``gets`` GetOperation calls while ``waits`` waits are open."""
    with grpc.insecure_channel(server.grpc_address) as channel:
        stub = operations_grpc.OperationsStub(channel)  # type: ignore[no-untyped-call]
        get = operations_pb2.GetOperationRequest(name=names[0])
        stub.GetOperation(get, timeout=30)  # connected
        open_waits = [
            stub.WaitOperation.future(
                operations_pb2.WaitOperationRequest(name=names[i % len(names)])
            )
            for i in range(waits)
        ]
        latencies = []
        try:
            for _ in range(gets):
                start = time.perf_counter()
                with contextlib.suppress(grpc.RpcError):
                    stub.GetOperation(get, timeout=deadline)
                latencies.append(min(time.perf_counter() - start, deadline))
        finally:
            for wait in open_waits:
                wait.cancel()
    return statistics.median(latencies)


def grpc_rate(server: Server, names: list[str], threads: int, seconds: float) -> float:
    """GetOperation per second of ``threads`` threads on one channel."""
    with grpc.insecure_channel(server.grpc_address) as channel:
        stub = operations_grpc.OperationsStub(channel)  # type: ignore[no-untyped-call]

        def read(name: str) -> object:
            return stub.GetOperation(operations_pb2.GetOperationRequest(name=name), timeout=30)

        read(names[0])
        return requests_per_second(read, names, threads, seconds)


def mixed_rates(
    server: Server, names: list[str], threads: int, seconds: float
) -> tuple[float, float]:
    """gRPC GetOperation/s and HTTP GET/s, both loads at once."""
    sessions = threading.local()

    def http_read(name: str) -> object:
        if not hasattr(sessions, "session"):
            sessions.session = requests.Session()
        answer = sessions.session.get(f"{server.http_url}/v1/{name}", timeout=30)
        answer.raise_for_status()
        return answer

    rates: dict[str, float] = {}
    http = threading.Thread(
        target=lambda: rates.update(http=requests_per_second(http_read, names, threads, seconds))
    )
    http.start()
    rates["grpc"] = grpc_rate(server, names, threads, seconds)
    http.join()
    return rates["grpc"], rates["http"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", nargs=2, metavar=("LAYOUT", "URL"), help=argparse.SUPPRESS)
    parser.add_argument("--waits", default="0,50,200")
    parser.add_argument("--gets", type=int, default=5)
    parser.add_argument("--deadline", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return
    counts = [int(count) for count in args.waits.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/waits.db"
        with lro.Client(url, worker=False) as client:
            names = [client.new_operation().name for _ in range(OPERATIONS)]
        latency_layouts = list(LAYOUTS)[:3]
        print("GetOperation median latency (ms) with N WaitOperation calls open")
        print(f"(a Get unanswered after {args.deadline:g} s counts as {args.deadline:g} s)\n")
        print("| N waits | " + " | ".join(latency_layouts) + " |")
        print("|---" * (len(latency_layouts) + 1) + "|")
        for count in counts:
            cells = []
            for layout in latency_layouts:
                with running(LAYOUTS[layout], url) as server:
                    seconds = get_latency(server, names, count, args.gets, args.deadline)
                cells.append(f"{seconds * 1000:,.1f}")
            print(f"| {count} | " + " | ".join(cells) + " |")
        _rate_tables(url, names, args)


def _rate_tables(url: str, names: list[str], args: argparse.Namespace) -> None:
    """Tables 2 and 3: the layouts take turns ``--rounds`` times; medians."""
    alone: dict[str, list[float]] = {}
    mixed: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.rounds):
        for layout in ("threaded", "lro serve", "aio, uvicorn thread"):
            with running(LAYOUTS[layout], url) as server:
                alone.setdefault(layout, []).append(
                    grpc_rate(server, names, args.threads, args.seconds)
                )
                if server.http_url:
                    rates = mixed_rates(server, names, args.threads, args.seconds)
                    mixed.setdefault(layout, []).append(rates)
    print(f"\nGetOperation/s with no wait open ({args.threads} client threads, median of")
    print(f"{args.rounds})\n")
    print("| layout | GetOperation/s | ratio to threaded |")
    print("|---|---|---|")
    baseline = statistics.median(alone["threaded"])
    for layout, runs in alone.items():
        rate = statistics.median(runs)
        print(f"| {layout} | {rate:,.0f} | {rate / baseline:.2f} |")
    print(f"\ngRPC GetOperation/s and HTTP GET/s at once ({args.threads} threads each, median")
    print(f"of {args.rounds})\n")
    print("| layout | gRPC/s | HTTP/s | sum |")
    print("|---|---|---|---|")
    for layout, pairs in mixed.items():
        grpc_per_second = statistics.median(pair[0] for pair in pairs)
        http_per_second = statistics.median(pair[1] for pair in pairs)
        total = statistics.median(pair[0] + pair[1] for pair in pairs)
        print(f"| {layout} | {grpc_per_second:,.0f} | {http_per_second:,.0f} | {total:,.0f} |")


if __name__ == "__main__":
    main()
