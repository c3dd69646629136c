"""``lro serve`` from the command line, answering google-api-core's clients."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.api_core import exceptions, operations_v1
from google.api_core.operations_v1.transports.rest import OperationsRestTransport
from google.auth.credentials import AnonymousCredentials
from google.protobuf import wrappers_pb2
from google.rpc import code_pb2

import lro
from tests.serving.conftest import TOP_LEVEL_HTTP_OPTIONS


def test_lro_serve_answers_grpc_and_http(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/served.db"
    with lro.Client(url) as client:
        finished = client.new_operation()
        finished.done(wrappers_pb2.StringValue(value="ok"))
        running = client.new_operation(parent="projects/p/locations/l")
    command = [sys.executable, "-m", "lro.cli", "serve", "--db", url]
    with subprocess.Popen(
        [*command, "--grpc-port", "0", "--http-port", "0"], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            _check_clients(process, finished.name, running.name)
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0


def _check_clients(process: subprocess.Popen[str], finished: str, running: str) -> None:
    """Both transports answer google-api-core's clients."""
    assert process.stdout is not None
    grpc_line, http_line = process.stdout.readline(), process.stdout.readline()
    grpc_match = re.fullmatch(r"lro: gRPC on (127\.0\.0\.1:\d+)\n", grpc_line)
    http_match = re.fullmatch(r"lro: HTTP on (http://127\.0\.0\.1:\d+)\n", http_line)
    assert grpc_match, grpc_line
    assert http_match, http_line
    with grpc.insecure_channel(grpc_match.group(1)) as channel:
        over_grpc = operations_v1.OperationsClient(channel)
        assert over_grpc.get_operation(finished).done
        listed = list(over_grpc.list_operations("operations", "done = true"))
        assert [op.name for op in listed] == [finished]
    rest = operations_v1.AbstractOperationsClient(
        transport=OperationsRestTransport(
            host=http_match.group(1),
            credentials=AnonymousCredentials(),
            http_options=TOP_LEVEL_HTTP_OPTIONS,
        )
    )
    assert rest.get_operation(finished).done
    scoped = operations_v1.AbstractOperationsClient(
        transport=OperationsRestTransport(
            host=http_match.group(1), credentials=AnonymousCredentials()
        )
    )
    scoped.cancel_operation(running)
    assert scoped.get_operation(running).error.code == code_pb2.CANCELLED
    with pytest.raises(exceptions.NotFound):
        rest.get_operation("operations/missing")
