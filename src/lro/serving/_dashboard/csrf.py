"""Cross-site request forgery protection for the dashboard's buttons.

Double submit: each page carries a random token that is also set as an HttpOnly,
``SameSite=Strict`` cookie, and a POST must send it back in the ``X-CSRF-Token``
header. Another site can neither read the token nor send the cookie with its request.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from lro._core.errors import PermissionDenied

COOKIE = "lro_csrf"
HEADER = "x-csrf-token"
TOKEN_BYTES = 32
_TOKEN_LENGTH = 43  # token_urlsafe(32)


def page_token(request: Request) -> str:
    """The token for a page: the browser's cookie if it holds a well-formed one."""
    token = request.cookies.get(COOKIE, "")
    if len(token) == _TOKEN_LENGTH and token.replace("-", "").replace("_", "").isalnum():
        return token
    return secrets.token_urlsafe(TOKEN_BYTES)


def set_cookie(response: Response, token: str, path: str) -> None:
    """Give the browser ``token`` as the cookie of the dashboard's paths."""
    response.set_cookie(COOKIE, token, path=path, httponly=True, samesite="strict")


def check(request: Request) -> None:
    """PermissionDenied unless the POST carries the cookie's token in its header and
    comes from this origin."""
    cookie = request.cookies.get(COOKIE, "")
    header = request.headers.get(HEADER, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), header.encode()):
        raise PermissionDenied("the request lacks the dashboard's CSRF token; reload the page")
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise PermissionDenied("the request comes from another origin")
