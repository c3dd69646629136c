"""``lro serve`` with TLS and tokens, as real processes: the refusal of clear text
beyond loopback, google-api-core's clients over TLS, client certificates, and the
token file read again on SIGHUP."""

from __future__ import annotations

import contextlib
import re
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
from collections.abc import Callable, Iterator
from pathlib import Path

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import pytest
from google.api_core import exceptions, operations_v1
from google.rpc import code_pb2

import lro
from lro.cli import main
from tests.serving.certificates import Pki, make_pki
from tests.serving.secured import call, rest_client, secure_channel

READ_TOKEN = secrets.token_urlsafe(24)
WRITE_TOKEN = secrets.token_urlsafe(24)
NEW_TOKEN = secrets.token_urlsafe(24)
LRO = [sys.executable, "-m", "lro.cli"]
CALL_SECONDS = 30  # a call that cannot connect fails then, not after api-core's retries


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Serving:
    """A running ``lro serve``: its gRPC address and HTTP URL, as it printed them."""

    def __init__(self, process: subprocess.Popen[str], stderr: Path) -> None:
        self.process = process
        self.stderr = stderr
        assert process.stdout is not None
        grpc_line, http_line = process.stdout.readline(), process.stdout.readline()
        grpc_match = re.fullmatch(r"lro: gRPC on (\S+):(\d+)\n", grpc_line)
        http_match = re.fullmatch(r"lro: HTTP on (https?)://(\S+):(\d+)\n", http_line)
        assert grpc_match, (grpc_line, stderr.read_text())
        assert http_match, (http_line, stderr.read_text())
        self.grpc_address = f"localhost:{grpc_match.group(2)}"
        self.http_url = f"{http_match.group(1)}://localhost:{http_match.group(3)}"


@contextlib.contextmanager
def serving(tmp_path: Path, *options: str) -> Iterator[Serving]:
    """``lro serve`` with ``options`` on free ports; SIGTERM at the end (exit 0)."""
    stderr = tmp_path / "serve.stderr"
    command = [*LRO, "serve", "--db", f"sqlite:///{tmp_path}/lro.db"]
    command += ["--grpc-port", "0", "--http-port", "0", *options]
    with (
        stderr.open("w") as errors,
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True) as process,
    ):
        try:
            yield Serving(process, stderr)
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0, stderr.read_text()


def _eventually(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the server never took the new tokens"
        time.sleep(0.05)


def test_clear_text_beyond_loopback_is_refused_before_anything_listens(tmp_path: Path) -> None:
    grpc_port, http_port = _free_port(), _free_port()
    database = tmp_path / "lro.db"
    command = [*LRO, "serve", "--db", f"sqlite:///{database}", "--host", "0.0.0.0"]  # noqa: S104
    command += ["--grpc-port", str(grpc_port), "--http-port", str(http_port)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "lro: FailedPrecondition: refusing to serve on 0.0.0.0 without TLS: give --tls-cert "
        "and --tls-key, or --insecure to allow clear text beyond this machine\n"
    )
    assert not database.exists()  # refused before the store was opened
    for port in (grpc_port, http_port):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_insecure_allows_clear_text_beyond_loopback_with_a_warning(tmp_path: Path) -> None:
    with serving(tmp_path, "--host", "0.0.0.0", "--insecure") as served:  # noqa: S104
        assert served.http_url.startswith("http://")
        with grpc.insecure_channel(served.grpc_address) as channel:
            api = operations_v1.OperationsClient(channel)
            assert list(api.list_operations("operations", "", timeout=CALL_SECONDS)) == []
    assert "without --auth-*: any caller may cancel" in served.stderr.read_text()


def test_google_clients_over_tls_with_tokens_and_the_token_file_reloaded_on_sighup(
    tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca))
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{READ_TOKEN} read\n{WRITE_TOKEN} write ci\n")
    with lro.Client(f"sqlite:///{tmp_path}/lro.db") as client:
        op = client.new_operation(parent="projects/p/locations/l")
    tls = ["--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key)]
    with serving(tmp_path, *tls, "--auth-tokens", str(tokens)) as served:
        assert served.http_url.startswith("https://")
        _check_roles(served, pki, op.name)
        tokens.write_text(f"{NEW_TOKEN} read\n")
        served.process.send_signal(signal.SIGHUP)
        _eventually(lambda: _get_code(served, pki, NEW_TOKEN, op.name) == grpc.StatusCode.OK)
        assert _get_code(served, pki, READ_TOKEN, op.name) == grpc.StatusCode.UNAUTHENTICATED
        tokens.write_text(f"{READ_TOKEN} reader\n")  # a bad file keeps the tokens in use
        served.process.send_signal(signal.SIGHUP)
        _eventually(lambda: "kept the tokens in use" in served.stderr.read_text())
        assert _get_code(served, pki, NEW_TOKEN, op.name) == grpc.StatusCode.OK
        assert READ_TOKEN not in str(served.process.args)  # nor in ps
    logged = served.stderr.read_text()
    assert all(token not in logged for token in (READ_TOKEN, WRITE_TOKEN, NEW_TOKEN))


def _check_roles(served: Serving, pki: Pki, name: str) -> None:
    """A read token reads but may not cancel; a write token cancels; no token is
    UNAUTHENTICATED; over gRPC and REST with google-api-core's clients."""
    # First without api-core's retries, which keep trying a port that does not answer.
    assert _get_code(served, pki, READ_TOKEN, name) == grpc.StatusCode.OK
    with secure_channel(served.grpc_address, pki, READ_TOKEN) as channel:
        reader = operations_v1.OperationsClient(channel)
        assert reader.get_operation(name, timeout=CALL_SECONDS).name == name
        with pytest.raises(exceptions.PermissionDenied):
            reader.cancel_operation(name, timeout=CALL_SECONDS)
    assert _get_code(served, pki, None, name) == grpc.StatusCode.UNAUTHENTICATED
    with rest_client(served.http_url, READ_TOKEN) as rest_reader:
        assert rest_reader.get_operation(name, timeout=CALL_SECONDS).name == name
        with pytest.raises(exceptions.Forbidden):
            rest_reader.cancel_operation(name, timeout=CALL_SECONDS)
    with rest_client(served.http_url, WRITE_TOKEN) as writer:
        writer.cancel_operation(name, timeout=CALL_SECONDS)
        assert writer.get_operation(name, timeout=CALL_SECONDS).error.code == code_pb2.CANCELLED


def _get_code(served: Serving, pki: Pki, token: str | None, name: str) -> grpc.StatusCode:
    with secure_channel(served.grpc_address, pki, token) as channel:
        get = operations_grpc.OperationsStub(channel).GetOperation
        try:
            get(operations_pb2.GetOperationRequest(name=name), timeout=CALL_SECONDS)
        except grpc.RpcError as error:
            return error.code()
    return grpc.StatusCode.OK


def test_client_certificates_required_with_tls_client_ca(tmp_path: Path, pki: Pki) -> None:
    tls = ["--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key)]
    with serving(tmp_path, *tls, "--tls-client-ca", str(pki.ca)) as served:
        url = f"{served.http_url}/v1/operations"
        assert call(url, pki, client_cert=pki.client)[:2] == (200, {})
        with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
            call(url, pki)  # no client certificate: the handshake fails
        request = operations_pb2.ListOperationsRequest(name="operations")
        with secure_channel(served.grpc_address, pki, client_cert=pki.client) as channel:
            operations_grpc.OperationsStub(channel).ListOperations(request, timeout=20)
        with (
            secure_channel(served.grpc_address, pki, client_cert=pki.stranger) as channel,
            pytest.raises(grpc.RpcError),
        ):
            operations_grpc.OperationsStub(channel).ListOperations(request, timeout=20)


def test_an_idle_tls_client_does_not_hold_the_shutdown(tmp_path: Path, pki: Pki) -> None:
    tls = ["--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key)]
    context = ssl.create_default_context(cafile=str(pki.ca))
    with serving(tmp_path, *tls) as served:
        port = int(served.http_url.rsplit(":", 1)[1])
        connection = socket.create_connection(("127.0.0.1", port))
        with context.wrap_socket(connection, server_hostname="localhost") as idle:
            idle.sendall(b"GET /v1/operations HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert idle.recv(4096).startswith(b"HTTP/1.1 200")  # kept alive, then left idle
            served.process.send_signal(signal.SIGTERM)
            # Without a bound, asyncio waits 30 s for the client's close_notify.
            assert served.process.wait(timeout=20) == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--tls-cert", "server.pem"], "--tls-cert and --tls-key go together"),
        (["--tls-client-ca", "test-ca.pem"], "--tls-client-ca needs --tls-cert and --tls-key"),
        (
            ["--tls-cert", "server.pem", "--tls-key", "client.key"],
            "cannot use the certificate server.pem with the key client.key: KEY_VALUES_MISMATCH",
        ),
        (
            ["--tls-cert", "server.pem", "--tls-key", "server.key", "--tls-client-ca", "none"],
            "cannot use the client CA none: No such file or directory",
        ),
        (["--auth-tokens", "missing"], "cannot read the tokens in missing: No such file"),
        (["--auth-oidc-audience", "https://ops"], "--auth-oidc-audience and --auth-oidc-account"),
        (
            ["--auth-oidc-audience", "https://ops", "--auth-oidc-account", "ops@p"],
            "--auth-oidc-account 'ops@p': expected EMAIL=ROLE",
        ),
        (
            ["--auth-oidc-audience", "https://ops", "--auth-oidc-account", "ops@p=root"],
            "--auth-oidc-account ops@p: a role is read, write or admin",
        ),
    ],
)
def test_bad_options_are_one_line_errors(
    pki: Pki,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(pki.ca.parent)
    assert main(["serve", "--db", "sqlite:///never.db", *options]) == 1
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err.startswith("lro: InvalidArgument: ")
    assert message in printed.err
    assert printed.err.count("\n") == 1
    assert not (pki.ca.parent / "never.db").exists()
