"""What TLS and bearer tokens cost GetOperation over gRPC on ``lro serve``.

Starts ``lro serve`` on one SQLite file as it is (clear text, no credentials), then with
``--auth-tokens`` (a file of 100 tokens; the one sent is compared with all of them),
then with TLS and the same tokens, and reads the same operations with 4 client threads
through one channel each time. The token goes as metadata on each call, and in the
last run as call credentials (``grpc.access_token_call_credentials``, as
docs/reference/production.md shows), whose plugin gRPC runs in Python for every call.
The four runs take turns ``--rounds`` times; prints the median requests per second of
each, and its ratio to the first.

    .venv/bin/python -m bench.serving_auth [--seconds 5] [--threads 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
from google.protobuf import struct_pb2
from tests.serving.certificates import make_pki

import lro
from bench.get_operation_grpc import OPERATIONS, requests_per_second

TOKENS = 100


def _served_rate(  # noqa: PLR0917 (one run's settings)
    url: str,
    options: list[str],
    credentials: grpc.ChannelCredentials | None,
    metadata: list[tuple[str, str]],
    names: list[str],
    args: argparse.Namespace,
) -> float:
    """GetOperation/s of ``lro serve`` with ``options``, through a channel with
    ``credentials`` (None: clear text), each call carrying ``metadata``."""
    command = [sys.executable, "-m", "lro.cli", "serve", "--db", url]
    command += ["--grpc-port", "0", "--http-port", "0", *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        found = re.search(r"gRPC on \S+:(\d+)", process.stdout.readline())
        process.stdout.readline()
        assert found, "lro serve did not start"
        address = f"localhost:{found.group(1)}"
        channel = (
            grpc.insecure_channel(address)
            if credentials is None
            else grpc.secure_channel(address, credentials)
        )
        with channel:
            stub = operations_grpc.OperationsStub(channel)  # type: ignore[no-untyped-call]

            def read(name: str) -> object:
                request = operations_pb2.GetOperationRequest(name=name)
                return stub.GetOperation(request, metadata=metadata)

            read(names[0])  # connect
            return requests_per_second(read, names, args.threads, args.seconds)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/auth.db"
        with lro.Client(url) as client:
            metadata = struct_pb2.Struct()
            metadata.update({"progress": 0.5, "step": "copying"})
            names = [client.new_operation(metadata=metadata).name for _ in range(OPERATIONS)]
        tokens = [secrets.token_urlsafe(24) for _ in range(TOKENS)]
        token_file = Path(folder) / "tokens"
        token_file.write_text("".join(f"{token} read\n" for token in tokens))
        pki = make_pki(Path(folder) / "pki")
        header = [("authorization", f"Bearer {tokens[-1]}")]
        tls = grpc.ssl_channel_credentials(pki.ca.read_bytes())
        call_credentials = grpc.access_token_call_credentials(tokens[-1])
        auth = ["--auth-tokens", str(token_file)]
        secured = [*auth, "--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key)]
        runs = [
            ([], None, []),
            (auth, None, header),
            (secured, tls, header),
            (secured, grpc.composite_channel_credentials(tls, call_credentials), []),
        ]
        measured: list[list[float]] = [[] for _ in runs]
        for _ in range(args.rounds):
            for rates_of_run, (options, credentials, headers) in zip(measured, runs, strict=True):
                rates_of_run.append(_served_rate(url, options, credentials, headers, names, args))
        rates = [statistics.median(rates_of_run) for rates_of_run in measured]
    ratios = " | ".join(f"{rate / rates[0]:.2f}" for rate in rates[1:])
    print("| client threads | lro serve | tokens | TLS, tokens | TLS, call credentials |")
    print("|---|---|---|---|---|")
    print(f"| {args.threads} | " + " | ".join(f"{rate:,.0f}" for rate in rates) + " |")
    print(f"| ratio | 1 | {ratios} |")


if __name__ == "__main__":
    main()
