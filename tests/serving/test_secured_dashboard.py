"""The dashboard behind tokens over real TLS: a browser gives the token as a Basic
password; its pages need read and its buttons write; Basic opens nothing else."""

from __future__ import annotations

import base64
import json
import re
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from google.rpc import code_pb2

import lro
from lro.serving import http_app
from tests.serving.certificates import Pki
from tests.serving.conftest import UvicornThread
from tests.serving.secured import READ_TOKEN, TOKENS, WRITE_TOKEN, WRONG_TOKEN, tls_options


@pytest.fixture
def client(sqlite_client: lro.Client) -> lro.Client:
    """Authentication does not touch the store: SQLite is enough here."""
    return sqlite_client


@pytest.fixture
def https_url(client: lro.Client, pki: Pki) -> Iterator[str]:
    server = UvicornThread(http_app(client, auth=TOKENS, ui=True), **tls_options(pki))
    yield server.url
    server.stop()


def basic(token: str, name: str = "me") -> str:
    return "Basic " + base64.b64encode(f"{name}:{token}".encode()).decode()


def fetch(
    url: str, pki: Pki, headers: dict[str, str], body: object = None
) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of a GET, or a POST of ``body`` as JSON, over TLS."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers)
    if data is not None:
        request.add_header("content-type", "application/json")
    context = ssl.create_default_context(cafile=str(pki.ca))
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_a_browser_is_asked_for_the_token_and_reads_with_it(https_url: str, pki: Pki) -> None:
    status, headers, _ = fetch(f"{https_url}/ui/", pki, {})
    assert status == 401
    assert headers["www-authenticate"] == 'Basic realm="lro", charset="UTF-8"'
    for authorization in (basic(WRONG_TOKEN), basic(""), "Basic !!", basic(READ_TOKEN)[:-4]):
        status, _, body = fetch(f"{https_url}/ui/", pki, {"authorization": authorization})
        assert status == 401, body
        assert WRONG_TOKEN not in body.decode()
    for authorization in (basic(READ_TOKEN), basic(READ_TOKEN, ""), f"Bearer {READ_TOKEN}"):
        status, _, body = fetch(f"{https_url}/ui/", pki, {"authorization": authorization})
        assert status == 200
        assert b"lro-csrf" in body
    status, _, body = fetch(
        f"{https_url}/ui/-/api/operations", pki, {"authorization": basic(READ_TOKEN)}
    )
    assert status == 200, body


def test_basic_credentials_open_nothing_outside_the_dashboard(
    https_url: str, pki: Pki, client: lro.Client
) -> None:
    op = client.new_operation()
    status, headers, _ = fetch(
        f"{https_url}/v1/{op.name}", pki, {"authorization": basic(WRITE_TOKEN)}
    )
    assert status == 401
    assert headers["www-authenticate"] == "Bearer"
    bearer = {"authorization": f"Bearer {READ_TOKEN}"}
    assert fetch(f"{https_url}/v1/{op.name}", pki, bearer)[0] == 200


def _csrf(https_url: str, pki: Pki, authorization: str) -> dict[str, str]:
    """The headers of a button's POST: the page's CSRF token and its cookie."""
    status, headers, body = fetch(f"{https_url}/ui/", pki, {"authorization": authorization})
    assert status == 200
    token = re.search(rb'name="lro-csrf" content="([^"]+)"', body)
    assert token is not None
    cookie = headers["set-cookie"].split(";", 1)[0]
    csrf = token.group(1).decode()
    return {"authorization": authorization, "x-csrf-token": csrf, "cookie": cookie}


def test_the_buttons_need_write(https_url: str, pki: Pki, client: lro.Client) -> None:
    op = client.new_operation()
    reader = _csrf(https_url, pki, basic(READ_TOKEN))
    for verb in ("cancel", "delete"):
        status, _, body = fetch(f"{https_url}/ui/-/api/{verb}", pki, reader, {"name": op.name})
        assert status == 403, body
        assert json.loads(body)["error"]["status"] == "PERMISSION_DENIED"
    assert not client.get_operation(op.name).done
    writer = _csrf(https_url, pki, basic(WRITE_TOKEN))
    status, _, body = fetch(f"{https_url}/ui/-/api/cancel", pki, writer, {"name": op.name})
    assert status == 200, body
    assert client.get_operation(op.name).error.code == code_pb2.CANCELLED
