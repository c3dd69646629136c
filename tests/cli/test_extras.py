"""The ``lro`` command without its optional extras: a one-line ``pip install`` hint for
what is missing, and ``lro serve --no-http`` serving gRPC on a core install."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import requests

import lro

# Runs ``lro`` with the modules named in its first argument made unimportable.
WITHOUT = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
from lro.cli import main
sys.exit(main(sys.argv[2:]))
"""
HTTP_EXTRA = "uvicorn,starlette"
ALL_EXTRAS = "uvicorn,starlette,psycopg,psycopg_pool,google.api_core,google.cloud,google.auth"
SPANNER_URL = "spanner:///projects/p/instances/i/databases/d"


def _lro_without(modules: str, *args: str) -> list[str]:
    return [sys.executable, "-c", WITHOUT, modules, *args]


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, cwd=cwd)


def _one_line_hint(result: subprocess.CompletedProcess[str], extra: str) -> None:
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"pip install 'lro[{extra}]'" in result.stderr


def test_serve_without_the_http_extra_names_it(tmp_path: Path) -> None:
    serve = ["serve", "--db", f"sqlite:///{tmp_path}/lro.db", "--grpc-port", "0"]
    result = _run(_lro_without(HTTP_EXTRA, *serve, "--http-port", "0"), tmp_path)
    _one_line_hint(result, "http")
    assert "--no-http" in result.stderr


def test_a_spanner_url_without_the_spanner_extra_names_it(tmp_path: Path) -> None:
    modules = "google.cloud.spanner,google.api_core"
    _one_line_hint(
        _run(_lro_without(modules, "get", "operations/x", "--db", SPANNER_URL), tmp_path), "spanner"
    )
    serve = ["serve", "--no-http", "--grpc-port", "0", "--db", SPANNER_URL]
    _one_line_hint(_run(_lro_without(modules, *serve), tmp_path), "spanner")


def test_serve_no_http_serves_grpc_alone_on_a_core_install(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/lro.db"
    with lro.Client(url, worker=False) as client:
        name = client.new_operation().name
    command = _lro_without(ALL_EXTRAS, "serve", "--db", url, "--grpc-port", "0", "--no-http")
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as server:
        try:
            assert server.stdout is not None
            address = re.fullmatch(r"lro: gRPC on (\S+)\n", server.stdout.readline())
            assert address, "no gRPC address printed"
            with grpc.insecure_channel(address.group(1)) as channel:
                stub = operations_grpc.OperationsStub(channel)  # type: ignore[no-untyped-call]
                got = stub.GetOperation(operations_pb2.GetOperationRequest(name=name), timeout=30)
            assert got.name == name
        finally:
            server.send_signal(signal.SIGTERM)
            stdout, stderr = server.communicate(timeout=30)
    assert server.returncode == 0, stderr
    assert "HTTP" not in stdout


def test_serve_no_grpc_serves_http_alone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/lro.db"
    with lro.Client(url, worker=False) as client:
        name = client.new_operation().name
    command = [sys.executable, "-m", "lro.cli", "serve", "--db", url, "--http-port", "0"]
    with subprocess.Popen(
        [*command, "--no-grpc"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as server:
        try:
            assert server.stdout is not None
            http = re.fullmatch(r"lro: HTTP on (\S+)\n", server.stdout.readline())
            assert http, "no HTTP address printed"
            got = requests.get(f"{http.group(1)}/v1/{name}", timeout=30)
            assert got.json()["name"] == name
        finally:
            server.send_signal(signal.SIGTERM)
            stdout, stderr = server.communicate(timeout=30)
    assert server.returncode == 0, stderr
    assert "gRPC" not in stdout


def test_no_http_and_no_grpc_do_not_go_together(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "lro.cli", "serve", "--no-http", "--no-grpc"]
    result = _run(command, tmp_path)
    assert result.returncode == 2
    assert "not allowed with" in result.stderr


def test_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    result = _run([sys.executable, "-m", "lro.cli", "--version"], tmp_path)
    assert (result.returncode, result.stdout) == (0, f"lro {version('lro')}\n")
