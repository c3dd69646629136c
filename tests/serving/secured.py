"""Clients and servers over real TLS, with the certificates of ``certificates.py``."""

from __future__ import annotations

import contextlib
import json
import secrets
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import google.oauth2.credentials
import grpc
from google.api_core import operations_v1
from google.api_core.client_options import ClientOptions

import lro
from lro.serving import BearerTokens
from lro.serving._auth import AuthArgument
from tests.serving.certificates import Issued, Pki
from tests.serving.conftest import AioServerThread, start_sync_server

READ_TOKEN = secrets.token_urlsafe(24)
WRITE_TOKEN = secrets.token_urlsafe(24)
WRONG_TOKEN = secrets.token_urlsafe(24)
TOKENS = BearerTokens({READ_TOKEN: "read", WRITE_TOKEN: "write"})


def server_credentials(pki: Pki, client_ca: bool = False) -> grpc.ServerCredentials:
    return grpc.ssl_server_credentials(
        [pki.server.pair()],
        root_certificates=pki.ca.read_bytes() if client_ca else None,
        require_client_auth=client_ca,
    )


def secure_channel(
    address: str, pki: Pki, token: str | None = None, client_cert: Issued | None = None
) -> grpc.Channel:
    """A TLS channel that trusts the test CA; with ``token``, every call carries
    ``authorization: Bearer {token}`` (call credentials)."""
    key, chain = client_cert.pair() if client_cert else (None, None)
    credentials = grpc.ssl_channel_credentials(pki.ca.read_bytes(), key, chain)
    if token is not None:
        credentials = grpc.composite_channel_credentials(
            credentials, grpc.access_token_call_credentials(token)
        )
    return grpc.secure_channel(address, credentials)


class Served:
    """A sync or asyncio gRPC server of ``client`` with ``auth`` and TLS."""

    def __init__(
        self, kind: str, client: lro.Client, auth: AuthArgument, tls: grpc.ServerCredentials
    ) -> None:
        self.kind = kind
        if kind == "sync":
            self._sync, self.address = start_sync_server(client, auth, tls)
        else:
            self._aio = AioServerThread(client, auth, tls)
            self.address = self._aio.address

    def stop(self) -> None:
        if self.kind == "sync":
            self._sync.stop(None).wait()
        else:
            self._aio.stop()


def tls_options(pki: Pki, client_ca: bool = False) -> dict[str, Any]:
    options: dict[str, Any] = {"ssl_certfile": str(pki.server.cert)}
    options["ssl_keyfile"] = str(pki.server.key)
    if client_ca:
        options.update(ssl_ca_certs=str(pki.ca), ssl_cert_reqs=ssl.CERT_REQUIRED)
    return options


def call(
    url: str,
    pki: Pki,
    method: str = "GET",
    *,
    authorization: str | None = None,
    body: bytes | None = None,
    client_cert: Issued | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, JSON body, headers) of one HTTPS request that trusts the test CA."""
    context = ssl.create_default_context(cafile=str(pki.ca))
    if client_cert is not None:
        context.load_cert_chain(str(client_cert.cert), str(client_cert.key))
    request = urllib.request.Request(url, data=body, method=method)
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


@contextlib.contextmanager
def rest_client(url: str, token: str) -> Iterator[operations_v1.AbstractOperationsClient]:
    """google-api-core's REST client on ``https://...`` with a bearer token; its
    connections are closed on exit (an idle TLS connection would hold the server's
    shutdown)."""
    client = operations_v1.AbstractOperationsClient(
        client_options=ClientOptions(api_endpoint=url),
        credentials=google.oauth2.credentials.Credentials(token),
    )
    try:
        yield client
    finally:
        client._transport._session.close()  # type: ignore[attr-defined]
