"""Google ID tokens as credentials of the Operations service, over real TLS: gRPC (sync
and asyncio) and HTTP, with real RS256 tokens and a local server of their certificates."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import pytest

import lro
from lro.serving import BearerTokens, GoogleIdTokens, http_app
from lro.serving._auth import AuthArgument
from tests.resume.oidc import AUDIENCE, EMAIL, OTHER_PRIVATE, CertServer, signed_token
from tests.serving.certificates import Pki, make_pki
from tests.serving.conftest import UvicornThread
from tests.serving.secured import Served, call, secure_channel, server_credentials, tls_options

READER_EMAIL = "dashboard@p.iam.gserviceaccount.com"
BEARER = secrets.token_urlsafe(24)


@pytest.fixture
def client(sqlite_client: lro.Client) -> lro.Client:
    """Authentication does not touch the store: SQLite is enough here."""
    return sqlite_client


@pytest.fixture
def certs() -> Iterator[CertServer]:
    with CertServer() as server:
        yield server


class Endpoint:
    """One transport serving ``client`` with ``auth`` over TLS; ``code`` makes a call."""

    def __init__(self, kind: str, client: lro.Client, auth: AuthArgument, pki: Pki) -> None:
        self.kind = kind
        self.pki = pki
        if kind == "http":
            self._http = UvicornThread(http_app(client, auth=auth), **tls_options(pki))
        else:
            self._grpc = Served(kind, client, auth, server_credentials(pki))

    def code(self, action: str, name: str, token: str) -> str:
        """The status name of ``action`` (get or cancel) on ``name`` with ``token``."""
        if self.kind == "http":
            verb = ("GET", "") if action == "get" else ("POST", ":cancel")
            url = f"{self._http.url}/v1/{name}{verb[1]}"
            status, body, _ = call(url, self.pki, verb[0], authorization=f"Bearer {token}")
            return "OK" if status == 200 else str(body["error"]["status"])
        with secure_channel(self._grpc.address, self.pki) as channel:
            stub = operations_grpc.OperationsStub(channel)
            metadata = [("authorization", f"Bearer {token}")]
            try:
                if action == "get":
                    stub.GetOperation(
                        operations_pb2.GetOperationRequest(name=name), metadata=metadata
                    )
                else:
                    request = operations_pb2.CancelOperationRequest(name=name)
                    stub.CancelOperation(request, metadata=metadata)
            except grpc.RpcError as error:
                return str(error.code().name)
        return "OK"

    def stop(self) -> None:
        if self.kind == "http":
            self._http.stop()
        else:
            self._grpc.stop()


@pytest.fixture(params=["sync", "aio", "http"])
def endpoint(
    request: pytest.FixtureRequest, client: lro.Client, certs: CertServer, tmp_path: Path
) -> Iterator[Endpoint]:
    google = GoogleIdTokens(AUDIENCE, {EMAIL: "write", READER_EMAIL: "read"}, certs_url=certs.url)
    served = Endpoint(
        request.param, client, [BearerTokens({BEARER: "read"}), google], make_pki(tmp_path)
    )
    yield served
    served.stop()


def test_a_listed_account_gets_its_role(endpoint: Endpoint, client: lro.Client) -> None:
    op = client.new_operation()
    reader = signed_token(email=READER_EMAIL)
    assert endpoint.code("get", op.name, reader) == "OK"
    assert endpoint.code("cancel", op.name, reader) == "PERMISSION_DENIED"
    assert not client.get_operation(op.name).done
    assert endpoint.code("get", op.name, BEARER) == "OK"  # the other scheme still works
    assert endpoint.code("cancel", op.name, signed_token()) == "OK"
    assert client.get_operation(op.name).done


def test_an_expired_forged_or_unknown_token_is_unauthenticated(
    endpoint: Endpoint, client: lro.Client, certs: CertServer
) -> None:
    op = client.new_operation()
    now = int(time.time())
    for token in (
        signed_token(iat=now - 7200, exp=now - 3600),
        signed_token(OTHER_PRIVATE),
        signed_token(key_id="another-key"),
        secrets.token_urlsafe(24),
    ):
        assert endpoint.code("get", op.name, token) == "UNAUTHENTICATED"
    assert certs.requests == 1  # the certificates are kept, not fetched per call


def test_a_valid_token_without_a_role_here_is_permission_denied(
    endpoint: Endpoint, client: lro.Client
) -> None:
    op = client.new_operation()
    for token in (
        signed_token(email="someone@p.iam.gserviceaccount.com"),
        signed_token(email_verified=False),
        signed_token(aud="https://another.run.app"),
    ):
        assert endpoint.code("get", op.name, token) == "PERMISSION_DENIED"


def test_an_account_list_is_required(certs: CertServer) -> None:
    with pytest.raises(lro.InvalidArgument, match="at least one service account"):
        GoogleIdTokens(AUDIENCE, {}, certs_url=certs.url)
