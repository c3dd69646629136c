"""The examples of "Running lro serve in production" (docs/reference/production.md) run
as written: Google's clients against ``lro serve`` with TLS and a token, and a server of
one's own."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import pytest

import lro
from tests.doc_pages import page, python_blocks, run_script
from tests.e2e.test_serve_security import serving
from tests.serving.certificates import Pki, make_pki
from tests.serving.secured import secure_channel

TOKEN = secrets.token_urlsafe(24)


def _examples() -> list[str]:
    return python_blocks(page("production"))


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


def test_the_client_example_reads_over_grpc_and_rest(tmp_path: Path, pki: Pki) -> None:
    client_example = _examples()[0]
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN} read\n")
    with lro.Client(f"sqlite:///{tmp_path}/lro.db") as client:
        op = client.new_operation(parent="projects/p/locations/l")
        op.done()
        client.new_operation(parent="projects/p/locations/l")
    tls = ["--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key)]
    with serving(tmp_path, *tls, "--auth-tokens", str(tokens)) as served:
        script = client_example.replace("ops.internal:50051", served.grpc_address)
        script = script.replace("https://ops.internal:8080", served.http_url)
        assert script.count("localhost:") == 2
        folder = tmp_path / "client"
        folder.mkdir()
        shutil.copy(pki.ca, folder / "ca.pem")
        environment = {**os.environ, "LRO_TOKEN": TOKEN, "REQUESTS_CA_BUNDLE": str(pki.ca)}
        printed = run_script(folder, script, "client.py", env=environment, timeout=120)
    assert printed == [str([op.name])] * 2


def test_the_own_server_example_takes_tokens_over_tls(tmp_path: Path, pki: Pki) -> None:
    server_example = _examples()[1]
    assert '"0.0.0.0:50051"' in server_example
    script = server_example.replace('"0.0.0.0:50051"', '"127.0.0.1:0"')
    (tmp_path / "tokens").write_text(f"{TOKEN} read\n")
    shutil.copy(pki.server.cert, tmp_path / "server.pem")
    shutil.copy(pki.server.key, tmp_path / "server.key")
    with subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            found = re.fullmatch(r"serving on port (\d+)\n", line)
            assert found, line
            address = f"localhost:{found.group(1)}"
            request = operations_pb2.ListOperationsRequest(name="operations")
            with secure_channel(address, pki, TOKEN) as channel:
                operations_grpc.OperationsStub(channel).ListOperations(request, timeout=30)
            with secure_channel(address, pki) as channel, pytest.raises(grpc.RpcError) as raised:
                operations_grpc.OperationsStub(channel).ListOperations(request, timeout=30)
            assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
