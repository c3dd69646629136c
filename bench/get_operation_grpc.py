"""GetOperation over gRPC on 127.0.0.1 against a direct ``client.get_operation``.

Starts ``lro serve`` in a separate process on a fresh SQLite file, then reads the same
operations with 4 client threads: through an Operations stub on one channel, and
directly through ``lro.Client.get_operation`` on the same file, measured in one run.
Prints requests per second for both and the ratio.

    .venv/bin/python -m bench.get_operation_grpc [--seconds 5] [--threads 4]
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
from google.protobuf import struct_pb2

import lro

OPERATIONS = 100


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


def _start_server(url: str) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "lro.cli", "serve", "--db", url]
    process = subprocess.Popen(
        [*command, "--grpc-port", "0", "--http-port", "0"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    match = re.search(r"gRPC on (\S+)", process.stdout.readline())
    process.stdout.readline()
    assert match, "lro serve did not start"
    return process, match.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        lro.Client(f"sqlite:///{folder}/get.db") as client,
    ):
        metadata = struct_pb2.Struct()
        metadata.update({"progress": 0.5, "step": "copying"})
        names = [client.new_operation(metadata=metadata).name for _ in range(OPERATIONS)]
        process, address = _start_server(f"sqlite:///{folder}/get.db")
        try:
            with grpc.insecure_channel(address) as channel:
                stub = operations_grpc.OperationsStub(channel)  # type: ignore[no-untyped-call]

                def over_grpc(name: str) -> object:
                    return stub.GetOperation(operations_pb2.GetOperationRequest(name=name))

                over_grpc(names[0])  # connect
                direct = requests_per_second(
                    client.get_operation, names, args.threads, args.seconds
                )
                served = requests_per_second(over_grpc, names, args.threads, args.seconds)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
    print("| client threads | direct get_operation/s | gRPC GetOperation/s | ratio |")
    print("|---|---|---|---|")
    print(f"| {args.threads} | {direct:,.0f} | {served:,.0f} | {served / direct:.2f} |")


if __name__ == "__main__":
    main()
