"""Who may call the resume endpoint: Google-signed OIDC tokens, or a shared secret."""

from __future__ import annotations

import hmac
from collections.abc import Collection
from typing import Any, Protocol

from lro._core.errors import PermissionDenied, Unauthenticated

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")


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


class OidcAuthenticator:
    """Accepts ID tokens signed by Google for ``audience`` (Cloud Tasks, Workflows).

    The signature and expiry are checked with google-auth against ``certs_url``; then
    the audience, the issuer and, if given, the service account's email.
    """

    def __init__(
        self,
        audience: str,
        *,
        service_account_emails: Collection[str] = (),
        issuers: Collection[str] = GOOGLE_ISSUERS,
        certs_url: str = GOOGLE_CERTS_URL,
        request: Any = None,
    ) -> None:
        self.audience = audience
        self.service_account_emails = frozenset(service_account_emails)
        self.issuers = frozenset(issuers)
        self.certs_url = certs_url
        self._request = request

    def verify(self, authorization: str | None) -> None:
        """Raise unless the header carries a valid Google ID token for this service."""
        claims = self._verified_claims(_bearer(authorization))
        if claims.get("aud") != self.audience:
            raise PermissionDenied(f"the token is for {claims.get('aud')!r}, not this service")
        if claims.get("iss") not in self.issuers:
            raise PermissionDenied(f"tokens from {claims.get('iss')!r} are not accepted")
        email = claims.get("email")
        if self.service_account_emails and (
            email not in self.service_account_emails or not claims.get("email_verified")
        ):
            raise PermissionDenied(f"{email!r} may not resume operations")

    def _verified_claims(self, token: str) -> dict[str, Any]:
        from google.auth import exceptions as auth_exceptions
        from google.oauth2 import id_token

        if self._request is None:
            from google.auth.transport.requests import Request

            self._request = Request()
        try:
            claims = id_token.verify_token(
                token, self._request, audience=None, certs_url=self.certs_url
            )
        except (ValueError, auth_exceptions.GoogleAuthError) as exc:
            raise Unauthenticated(f"the token is not valid: {exc}") from exc
        return dict(claims)


class SharedSecretAuthenticator:
    """Accepts ``Authorization: Bearer {secret}``, for deployments outside Google Cloud."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("a shared secret needs at least 16 characters")
        self._secret = secret.encode()

    def verify(self, authorization: str | None) -> None:
        """Raise unless the header carries the secret (compared in constant time)."""
        if not hmac.compare_digest(_bearer(authorization).encode(), self._secret):
            raise PermissionDenied("the resume secret does not match")
