"""The HTTP app under uvicorn over real TLS, with bearer tokens and roles."""

from __future__ import annotations

import json
import logging
import secrets
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from google.api_core import exceptions
from google.auth.exceptions import RefreshError
from google.protobuf import wrappers_pb2
from google.rpc import code_pb2

import lro
from lro.serving import http_app
from tests.serving.certificates import Pki
from tests.serving.conftest import UvicornThread
from tests.serving.secured import (
    READ_TOKEN,
    TOKENS,
    WRITE_TOKEN,
    WRONG_TOKEN,
    call,
    rest_client,
    tls_options,
)

RESUME_SECRET = secrets.token_urlsafe(24)


@pytest.fixture
def client(sqlite_client: lro.Client) -> lro.Client:
    """Authentication does not touch the store: SQLite is enough here."""
    return sqlite_client


@pytest.fixture
def https_url(client: lro.Client, pki: Pki) -> Iterator[str]:
    resume_auth = lro.SharedSecretAuthenticator(RESUME_SECRET)
    server = UvicornThread(
        http_app(client, auth=TOKENS, resume_auth=resume_auth), **tls_options(pki)
    )
    yield server.url
    server.stop()


def test_no_credential_or_a_wrong_one_is_401(
    https_url: str, pki: Pki, client: lro.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "lro")
    op = client.new_operation()
    for authorization in (None, f"Bearer {WRONG_TOKEN}", f"bearer  {WRONG_TOKEN[:-1]}", "Bearer"):
        status, body, headers = call(
            f"{https_url}/v1/{op.name}", pki, "GET", authorization=authorization
        )
        assert status == 401, body
        assert body["error"]["status"] == "UNAUTHENTICATED"
        assert headers["www-authenticate"] == "Bearer"
        assert WRONG_TOKEN[:-1] not in json.dumps(body)
    status, _, _ = call(f"{https_url}/v1/nothing/here", pki, "GET")
    assert status == 401  # a route that does not exist is not told apart before sign-in
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"refused GET /v1/{op.name}" in logged
    assert WRONG_TOKEN[:-1] not in logged


def test_a_read_token_reads_and_waits_but_may_not_cancel_or_delete(
    https_url: str, pki: Pki, client: lro.Client
) -> None:
    op = client.new_operation()
    read = f"Bearer {READ_TOKEN}"
    got = call(f"{https_url}/v1/{op.name}", pki, "GET", authorization=read)
    assert got[:2] == (200, {"name": op.name})
    wait = call(
        f"{https_url}/v1/{op.name}:wait",
        pki,
        "POST",
        authorization=read,
        body=b'{"timeout": "0.1s"}',
    )
    assert wait[:2] == (200, {"name": op.name})
    for method, path in (("POST", f"/v1/{op.name}:cancel"), ("DELETE", f"/v1/{op.name}")):
        status, body, headers = call(f"{https_url}{path}", pki, method, authorization=read)
        assert status == 403, body
        assert body["error"]["status"] == "PERMISSION_DENIED"
        assert headers["www-authenticate"] == 'Bearer error="insufficient_scope"'
    assert not client.get_operation(op.name).done


def test_rest_client_over_https_with_a_token(
    https_url: str, pki: Pki, client: lro.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca))
    parent = "projects/p/locations/l"
    running = client.new_operation(parent=parent)
    finished = client.new_operation(parent=parent)
    finished.done(wrappers_pb2.StringValue(value="ok"))
    with rest_client(https_url, READ_TOKEN) as reader:
        assert reader.get_operation(finished.name).done
        listed = reader.list_operations(parent, "")
        assert {op.name for op in listed} == {running.name, finished.name}
        with pytest.raises(exceptions.Forbidden):
            reader.cancel_operation(running.name)
    # On a 401, google-auth's session asks the credentials for a new token first.
    with rest_client(https_url, WRONG_TOKEN) as stranger, pytest.raises(RefreshError):
        stranger.get_operation(finished.name)
    with rest_client(https_url, WRITE_TOKEN) as writer:
        writer.cancel_operation(running.name)
        assert writer.get_operation(running.name).error.code == code_pb2.CANCELLED
        writer.delete_operation(finished.name)
        with pytest.raises(exceptions.NotFound):
            writer.get_operation(finished.name)


def test_the_resume_endpoint_keeps_its_own_authentication(https_url: str, pki: Pki) -> None:
    resume = f"{https_url}/operations/no-such-handler?operation=operations/x"
    status, body, _ = call(resume, pki, "PUT", authorization=f"Bearer {RESUME_SECRET}")
    assert (status, body["error"]["status"]) == (404, "NOT_FOUND")  # past authentication
    status, body, _ = call(resume, pki, "PUT", authorization=f"Bearer {WRITE_TOKEN}")
    assert (status, body["error"]["status"]) == (401, "UNAUTHENTICATED")


def test_client_certificates_required_and_missing(client: lro.Client, pki: Pki) -> None:
    op = client.new_operation()
    server = UvicornThread(http_app(client, auth=TOKENS), **tls_options(pki, client_ca=True))
    url = f"{server.url}/v1/{op.name}"
    read = f"Bearer {READ_TOKEN}"
    try:
        assert call(url, pki, authorization=read, client_cert=pki.client)[0] == 200
        for certificate in (None, pki.stranger):
            with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
                call(url, pki, authorization=read, client_cert=certificate)
    finally:
        server.stop()
