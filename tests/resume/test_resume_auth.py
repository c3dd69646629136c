"""The resume endpoint's authentication: real signed tokens, certificates over HTTP."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import crypt, jwt

import lro
from lro._resume.auth import OidcAuthenticator, SharedSecretAuthenticator

AUDIENCE = "https://svc.run.app"
EMAIL = "resumer@p.iam.gserviceaccount.com"


def _key_pem() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


PRIVATE, PUBLIC = _key_pem()
OTHER_PRIVATE, _ = _key_pem()


@pytest.fixture(scope="module")
def certs_url() -> Iterator[str]:
    """An HTTP server on 127.0.0.1 that serves the signing key, as Google's certs URL does."""
    body = json.dumps({"key-1": PUBLIC.decode()}).encode()

    class Certs(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Certs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/certs"
    server.shutdown()
    server.server_close()


def _token(private: bytes = PRIVATE, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "email": EMAIL,
        "email_verified": True,
        "iat": now,
        "exp": now + 300,
        **claims,
    }
    signer = crypt.RSASigner.from_string(private, key_id="key-1")  # type: ignore[no-untyped-call]
    token: bytes = jwt.encode(signer, payload)  # type: ignore[no-untyped-call]
    return token.decode()


def _authenticator(certs_url: str) -> OidcAuthenticator:
    return OidcAuthenticator(AUDIENCE, service_account_emails=[EMAIL], certs_url=certs_url)


def test_a_google_signed_token_for_this_service_passes(certs_url: str) -> None:
    _authenticator(certs_url).verify(f"Bearer {_token()}")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic abc",
        "Bearer",
        "Bearer not-a-jwt",
        f"Bearer {_token(OTHER_PRIVATE)}",
        f"Bearer {_token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)}",
    ],
)
def test_missing_forged_or_expired_tokens_are_401(certs_url: str, header: str | None) -> None:
    with pytest.raises(lro.Unauthenticated):
        _authenticator(certs_url).verify(header)


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://other.run.app"},
        {"iss": "https://evil.example"},
        {"email": "someone@else.com"},
        {"email_verified": False},
    ],
)
def test_valid_tokens_for_others_are_403(certs_url: str, claims: dict[str, Any]) -> None:
    with pytest.raises(lro.PermissionDenied):
        _authenticator(certs_url).verify(f"Bearer {_token(**claims)}")


def test_shared_secret() -> None:
    authenticator = SharedSecretAuthenticator("s" * 32)
    authenticator.verify("Bearer " + "s" * 32)
    with pytest.raises(lro.PermissionDenied):
        authenticator.verify("Bearer " + "t" * 32)
    with pytest.raises(lro.Unauthenticated):
        authenticator.verify(None)
    with pytest.raises(ValueError, match="16"):
        SharedSecretAuthenticator("short")
