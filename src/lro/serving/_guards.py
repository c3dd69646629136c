"""Authentication in front of the servicers (gRPC) and the HTTP app (ASGI middleware).

Each guard reads the ``authorization`` metadata or header, asks ``ServiceAuth`` for a
caller with the role that the call needs, and answers a refusal with its code
(UNAUTHENTICATED / 401, PERMISSION_DENIED / 403) before the call does any work.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, NoReturn

import google.rpc.code_pb2 as code_pb2
import grpc
import grpc.aio

from lro.serving._auth import RPC_ROLES, Role, ServiceAuth
from lro.serving._status import HTTP_STATUS, LOGGER, error_status, grpc_code

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
DASHBOARD = "/ui"
# What a 401 tells a browser on the dashboard's paths: ask for a name and a password.
BROWSER_CHALLENGE = b'Basic realm="lro", charset="UTF-8"'
# What a 401 and a 403 tell the caller to do (RFC 6750).
_CHALLENGES: dict[int, bytes] = {
    code_pb2.UNAUTHENTICATED: b"Bearer",
    code_pb2.PERMISSION_DENIED: b'Bearer error="insufficient_scope"',
}


def _authorization(metadata: Any) -> str | None:
    for key, value in metadata or ():
        if key.lower() == "authorization":
            return value if isinstance(value, str) else bytes(value).decode("latin-1")
    return None


def _refusal(exc: Exception, call: str, peer: str) -> tuple[int, str]:
    code, message = error_status(exc)
    LOGGER.info("refused %s from %s: %s", call, peer, message)
    return code, message


def protect(servicer: object, auth: ServiceAuth | None) -> None:
    """Put each RPC of a ``grpc.server`` servicer behind ``auth`` (None: leave them open)."""
    if auth is not None:
        for method, role in RPC_ROLES.items():
            setattr(servicer, method, _guarded(getattr(servicer, method), auth, role, method))


def protect_async(servicer: object, auth: ServiceAuth | None) -> None:
    """Put each RPC of a ``grpc.aio`` servicer behind ``auth`` (None: leave them open)."""
    if auth is not None:
        for method, role in RPC_ROLES.items():
            behavior = getattr(servicer, method)
            setattr(servicer, method, _guarded_async(behavior, auth, role, method))


def _guarded(
    behavior: Callable[[Any, grpc.ServicerContext], Any], auth: ServiceAuth, role: Role, call: str
) -> Callable[[Any, grpc.ServicerContext], Any]:
    @functools.wraps(behavior)
    def guarded(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            auth.authorize(_authorization(context.invocation_metadata()), role, call)
        except Exception as exc:
            _abort(context, *_refusal(exc, call, context.peer()))
        return behavior(request, context)

    return guarded


def _abort(context: grpc.ServicerContext, code: int, message: str) -> NoReturn:
    context.abort(grpc_code(code), message)
    raise AssertionError("context.abort returns only by raising")  # pragma: no cover


def _guarded_async(
    behavior: Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]],
    auth: ServiceAuth,
    role: Role,
    call: str,
) -> Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]:
    @functools.wraps(behavior)
    async def guarded(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        try:
            authorization = _authorization(context.invocation_metadata())
            await auth.authorize_async(authorization, role, call)
        except Exception as exc:
            code, message = _refusal(exc, call, context.peer())
            await context.abort(grpc_code(code), message)
        return await behavior(request, context)

    return guarded


def http_role(method: str, path: str) -> Role | None:
    """The role an HTTP request needs; None for the routes that need no credential
    (``/healthz``, and the resume endpoint, which has its own ``resume_auth``)."""
    if path == "/healthz":
        return None
    if method == "PUT" and path.startswith("/operations/") and path.count("/") == 2:
        return None
    if method in ("GET", "HEAD"):
        return Role.READ
    if method == "POST" and path.startswith("/v1/") and path.endswith(":wait"):
        return Role.READ
    return Role.WRITE


def _is_dashboard(path: str) -> bool:
    return path == DASHBOARD or path.startswith(f"{DASHBOARD}/")


def basic_as_bearer(authorization: str | None) -> str | None:
    """``Basic base64(NAME:TOKEN)`` as ``Bearer TOKEN``; any other value as it is.

    A browser sends Basic credentials, remembered for the dashboard's paths, with each
    page and each of the pages' requests; the name is not checked.
    """
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return authorization
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    _, colon, token = decoded.partition(":")
    return f"Bearer {token}" if colon else None


class HttpAuth:
    """ASGI middleware: every HTTP request carries ``Authorization: Bearer TOKEN`` of a
    role that ``http_role`` allows, or is answered 401/403 as a JSON error.

    The dashboard's paths (``/ui``) also take ``Basic`` credentials with the token as
    the password, so that a browser can ask for it; the other routes do not, since a
    browser would send those credentials with requests that other sites make it send.
    """

    def __init__(self, app: AsgiApp, auth: ServiceAuth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope["method"], _route_path(scope)
            role = http_role(method, path)
            if role is not None:
                call = f"{method} {path[:200]}"
                authorization = _header(scope, b"authorization")
                dashboard = _is_dashboard(path)
                if dashboard:
                    authorization = basic_as_bearer(authorization)
                try:
                    await self.auth.authorize_async(authorization, role, call)
                except Exception as exc:
                    client = scope.get("client") or ("", 0)
                    code, message = _refusal(exc, call, f"{client[0]}:{client[1]}")
                    await _send_error(send, code, message, dashboard)
                    return
        await self.app(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The request's path inside the app (without the prefix it is mounted at)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _send_error(send: Send, code: int, message: str, dashboard: bool) -> None:
    status = HTTP_STATUS.get(code, 500)
    error = {"code": status, "message": message, "status": code_pb2.Code.Name(code)}
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if code == code_pb2.UNAUTHENTICATED and dashboard:
        headers.append((b"www-authenticate", BROWSER_CHALLENGE))
    elif code in _CHALLENGES:
        headers.append((b"www-authenticate", _CHALLENGES[code]))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
