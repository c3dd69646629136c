"""Who may call the resume endpoint: Google-signed OIDC tokens, or a shared secret.

No credential or a bad one (a token that is malformed, forged, expired or has claims of
the wrong type; a wrong secret) is Unauthenticated (401). A valid token for another
audience, issuer or account is PermissionDenied (403).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Collection
from typing import Any, Protocol

from lro._core.errors import PermissionDenied, Unauthenticated, Unavailable

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
CERTS_TIMEOUT = 10.0
FETCH_RETRY_PAUSE = 2.0  # after a failed fetch of the certificates, callers fail at once
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)\s*(?:,|$)", re.IGNORECASE)
# Claims of a Google ID token and their JSON types; the first four must be present.
_CLAIM_TYPES: dict[str, type] = {
    "aud": str,
    "iss": str,
    "iat": int,
    "exp": int,
    "email": str,
    "email_verified": bool,
}
_REQUIRED_CLAIMS = ("aud", "iss", "iat", "exp")
logger = logging.getLogger("lro.resume")


class ResumeAuthenticator(Protocol):
    """Checks the ``Authorization`` header of a call to the resume endpoint."""

    def verify(self, authorization: str | None) -> None:
        """Return if the caller may resume operations; raise Unauthenticated (401) or
        PermissionDenied (403) otherwise."""
        ...


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the resume endpoint needs an 'Authorization: Bearer' token")
    return token.strip()


def _json_segment(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        raise Unauthenticated("the token is not a JWT") from None
    if not isinstance(value, dict):
        raise Unauthenticated("the token is not a JWT")
    return value


def _claim_types_checked(claims: dict[str, Any]) -> None:
    for claim, kind in _CLAIM_TYPES.items():
        if claim not in claims:
            if claim in _REQUIRED_CLAIMS:
                raise Unauthenticated(f"the token has no {claim!r} claim")
            continue
        value = claims[claim]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise Unauthenticated(f"the token's {claim!r} claim is not a JSON {kind.__name__}")


def key_id_of(token: str) -> str:
    """The key id of a token shaped as Google signs ID tokens: three base64url
    segments, an RS256 header with a key id, claims of the right types.

    Nothing is verified yet; a token of another shape is refused (Unauthenticated)
    before any certificate is fetched.
    """
    segments = token.split(".")
    if len(segments) != 3 or not all(_SEGMENT.fullmatch(part) for part in segments):
        raise Unauthenticated("the token is not a JWT")
    header = _json_segment(segments[0])
    key_id = header.get("kid")
    if header.get("alg") != "RS256" or not isinstance(key_id, str) or not key_id:
        raise Unauthenticated("the token is not signed as Google signs ID tokens (RS256)")
    _claim_types_checked(_json_segment(segments[1]))
    return key_id


def max_age(cache_control: str) -> float:
    """Seconds that a response may be kept, by its ``Cache-Control`` header (0 if none)."""
    lowered = cache_control.lower()
    if "no-store" in lowered or "no-cache" in lowered:
        return 0.0
    found = _MAX_AGE.search(cache_control)
    return float(found.group(1)) if found else 0.0


class CertificateCache:
    """Google's signing certificates, kept for their ``Cache-Control`` max-age.

    One fetch at a time: callers that need the certificates while a fetch runs wait for
    it and share its result. After a failed fetch, callers fail at once for
    ``FETCH_RETRY_PAUSE`` seconds instead of fetching again.
    """

    def __init__(self, url: str, request: Any = None, timeout: float = CERTS_TIMEOUT) -> None:
        self.url = url
        self.timeout = timeout
        self._request = request
        self._lock = threading.Lock()
        self._certificates: dict[str, str] = {}
        self._fresh_until = float("-inf")
        self._failed_until = float("-inf")

    def get(self) -> dict[str, str]:
        """The certificates by key id, fetched if the kept ones are stale."""
        with self._lock:
            now = time.monotonic()
            if now >= self._fresh_until:
                if now < self._failed_until:
                    raise Unavailable("the keys that verify tokens cannot be fetched now")
                try:
                    self._certificates, seconds = self._fetch()
                except Unavailable:
                    self._failed_until = time.monotonic() + FETCH_RETRY_PAUSE
                    raise
                self._fresh_until = time.monotonic() + seconds
            return self._certificates

    def _fetch(self) -> tuple[dict[str, str], float]:
        if self._request is None:
            from google.auth.transport.requests import Request

            self._request = Request()
        try:
            response = self._request(self.url, method="GET", timeout=self.timeout)
            certificates = json.loads(response.data) if response.status == 200 else None
        except Exception:
            logger.warning("cannot fetch the token certificates", exc_info=True)
            certificates = None
        if not isinstance(certificates, dict) or not all(
            isinstance(value, str) for value in certificates.values()
        ):
            logger.warning("the token certificates could not be read from %s", self.url)
            raise Unavailable("the keys that verify tokens cannot be fetched now; try again")
        return certificates, max_age(str(response.headers.get("cache-control", "")))


class OidcAuthenticator:
    """Accepts ID tokens signed by Google for ``audience`` (Cloud Tasks, Workflows).

    The token's shape and claim types are checked first; then its signature and times
    against Google's certificates at ``certs_url`` (kept for their Cache-Control
    max-age, fetched with ``certs_timeout``); then the audience, the issuer and, if
    given, the service account's email.
    """

    def __init__(
        self,
        audience: str,
        *,
        service_account_emails: Collection[str] = (),
        issuers: Collection[str] = GOOGLE_ISSUERS,
        certs_url: str = GOOGLE_CERTS_URL,
        certs_timeout: float = CERTS_TIMEOUT,
        request: Any = None,
    ) -> None:
        self.audience = audience
        self.service_account_emails = frozenset(service_account_emails)
        self.issuers = frozenset(issuers)
        self.certs_url = certs_url
        self._certificates = CertificateCache(certs_url, request, certs_timeout)

    def verify(self, authorization: str | None) -> None:
        """Raise unless the header carries a valid Google ID token for this service."""
        claims = self.claims(_bearer(authorization))
        if self.service_account_emails and (
            claims.get("email") not in self.service_account_emails
            or claims.get("email_verified") is not True
        ):
            raise PermissionDenied("the token's account may not resume operations")

    def claims(self, token: str) -> dict[str, Any]:
        """The claims of ``token`` once its shape, signature, times, audience and issuer
        are checked (the service account's email is not)."""
        claims = self._signed_claims(token)
        if claims["aud"] != self.audience:
            raise PermissionDenied("the token is for another audience")
        if claims["iss"] not in self.issuers:
            raise PermissionDenied("the token's issuer is not accepted")
        return claims

    def _signed_claims(self, token: str) -> dict[str, Any]:
        from google.auth import exceptions as auth_exceptions
        from google.auth import jwt

        key_id = key_id_of(token)
        certificates = self._certificates.get()
        if key_id not in certificates:
            raise Unauthenticated("the token is signed with a key that Google does not use")
        try:
            claims = jwt.decode(token, certs={key_id: certificates[key_id]}, audience=None)  # type: ignore[no-untyped-call]
        except (ValueError, TypeError, auth_exceptions.GoogleAuthError) as exc:
            logger.info("an ID token was refused: %s", exc)
            raise Unauthenticated("the token's signature or times are not valid") from None
        return dict(claims)


class SharedSecretAuthenticator:
    """Accepts ``Authorization: Bearer {secret}``, for deployments outside Google Cloud."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("a shared secret needs at least 16 characters")
        self._secret = secret.encode()

    def verify(self, authorization: str | None) -> None:
        """Raise Unauthenticated unless the header carries the secret (compared in
        constant time)."""
        if not hmac.compare_digest(_bearer(authorization).encode(), self._secret):
            raise Unauthenticated("the resume secret does not match")
