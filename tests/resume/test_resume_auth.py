"""The resume endpoint's authentication: real signed tokens, certificates over HTTP."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import lro
from lro._resume.auth import OidcAuthenticator, SharedSecretAuthenticator, max_age
from tests.resume.oidc import AUDIENCE, EMAIL, OTHER_PRIVATE, CertServer, signed_token


@pytest.fixture
def certs() -> Iterator[CertServer]:
    with CertServer() as server:
        yield server


def _authenticator(certs: CertServer) -> OidcAuthenticator:
    return OidcAuthenticator(AUDIENCE, service_account_emails=[EMAIL], certs_url=certs.url)


def _segment(value: object) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_google_signed_token_for_this_service_passes(certs: CertServer) -> None:
    _authenticator(certs).verify(f"Bearer {signed_token()}")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic abc",
        "Bearer",
        f"Bearer {signed_token(OTHER_PRIVATE)}",
        f"Bearer {signed_token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)}",
        f"Bearer {signed_token(key_id='unknown-key')}",
    ],
)
def test_missing_forged_or_expired_tokens_are_401(certs: CertServer, header: str | None) -> None:
    with pytest.raises(lro.Unauthenticated):
        _authenticator(certs).verify(header)


@pytest.mark.parametrize(
    "claims",
    [
        {"email_verified": "false"},
        {"email_verified": "true"},
        {"email_verified": 1},
        {"email": [EMAIL]},
        {"email": {"address": EMAIL}},
        {"aud": [AUDIENCE]},
        {"iss": ["https://accounts.google.com"]},
        {"exp": str(int(time.time()) + 300)},
        {"iat": True},
        {"exp": None},
    ],
)
def test_claims_of_the_wrong_type_are_401(certs: CertServer, claims: dict[str, Any]) -> None:
    with pytest.raises(lro.Unauthenticated, match="claim"):
        _authenticator(certs).verify(f"Bearer {signed_token(**claims)}")


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://other.run.app"},
        {"iss": "https://evil.example"},
        {"email": "someone@else.com"},
        {"email_verified": False},
    ],
)
def test_valid_tokens_for_others_are_403(certs: CertServer, claims: dict[str, Any]) -> None:
    with pytest.raises(lro.PermissionDenied):
        _authenticator(certs).verify(f"Bearer {signed_token(**claims)}")


def _reshaped(header: object = None, payload: object = None) -> str:
    head, body, signature = signed_token().split(".")
    if header is not None:
        head = _segment(header)
    if payload is not None:
        body = _segment(payload)
    return f"{head}.{body}.{signature}"


@pytest.mark.parametrize(
    "token",
    [
        "x",
        "a.b",
        "a.b.c.d",
        "a..c",
        "!!.e30.c2ln",
        _reshaped(header=b"not json"),
        _reshaped(header=["RS256"]),
        _reshaped(header={"alg": "none", "kid": "key-1"}),
        _reshaped(header={"alg": "HS256", "kid": "key-1"}),
        _reshaped(header={"alg": "RS256"}),
        _reshaped(header={"alg": "RS256", "kid": 7}),
        _reshaped(payload=b"\xff\xfe"),
        _reshaped(payload="a string"),
        _reshaped(payload=json.loads("[" * 50 + "]" * 50)),
        _reshaped(payload={"aud": AUDIENCE}),
    ],
)
def test_malformed_tokens_are_401_before_any_certificate_fetch(
    certs: CertServer, token: str
) -> None:
    with pytest.raises(lro.Unauthenticated):
        _authenticator(certs).verify(f"Bearer {token}")
    assert certs.requests == 0


@pytest.mark.parametrize(
    ("cache_control", "fetches"), [("public, max-age=3600", 1), ("no-cache", 3), ("", 3)]
)
def test_certificates_are_kept_for_their_max_age(cache_control: str, fetches: int) -> None:
    with CertServer(cache_control) as certs:
        authenticator = _authenticator(certs)
        for _ in range(3):
            authenticator.verify(f"Bearer {signed_token()}")
        assert certs.requests == fetches


def test_certificates_are_fetched_again_after_their_max_age() -> None:
    with CertServer("max-age=1") as certs:
        authenticator = _authenticator(certs)
        authenticator.verify(f"Bearer {signed_token()}")
        time.sleep(1.2)
        authenticator.verify(f"Bearer {signed_token()}")
        assert certs.requests == 2


def test_concurrent_verifications_share_one_fetch() -> None:
    results: list[object] = []
    with CertServer(held=True) as certs:
        authenticator = _authenticator(certs)

        def verify() -> None:
            try:
                authenticator.verify(f"Bearer {signed_token()}")
                results.append("ok")
            except Exception as exc:
                results.append(exc)

        threads = [threading.Thread(target=verify) for _ in range(8)]
        for thread in threads:
            thread.start()
        certs.wait_for_requests(1)
        certs.release()
        for thread in threads:
            thread.join(30)
        assert results == ["ok"] * 8
        assert certs.requests == 1


def test_certificates_that_cannot_be_fetched_are_unavailable_without_details() -> None:
    with CertServer() as certs:
        certs.status = 500
        authenticator = _authenticator(certs)
        with pytest.raises(lro.Unavailable) as raised:
            authenticator.verify(f"Bearer {signed_token()}")
        assert "127.0.0.1" not in str(raised.value)
        assert "certs" not in str(raised.value)
        with pytest.raises(lro.Unavailable):  # at once: no second fetch right after a failure
            authenticator.verify(f"Bearer {signed_token()}")
        assert certs.requests == 1


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("public, max-age=19845, must-revalidate, no-transform", 19845.0),
        ("max-age=60", 60.0),
        ("MAX-AGE = 7", 7.0),
        ("s-maxage=100", 0.0),
        ("no-store, max-age=60", 0.0),
        ("", 0.0),
    ],
)
def test_max_age(header: str, seconds: float) -> None:
    assert max_age(header) == seconds


def test_shared_secret() -> None:
    authenticator = SharedSecretAuthenticator("s" * 32)
    authenticator.verify("Bearer " + "s" * 32)
    with pytest.raises(lro.Unauthenticated):  # a wrong secret is a bad credential: 401
        authenticator.verify("Bearer " + "t" * 32)
    with pytest.raises(lro.Unauthenticated):
        authenticator.verify(None)
    with pytest.raises(ValueError, match="16"):
        SharedSecretAuthenticator("short")
