"""Serving ``google.longrunning.Operations`` over gRPC (sync and asyncio) and HTTP/JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lro._resume.auth import ResumeAuthenticator
from lro._resume.endpoint import DEFAULT_MAX_ATTEMPTS
from lro.serving._auth import (
    AuthArgument,
    Authenticator,
    BearerTokens,
    Caller,
    GoogleIdTokens,
    Role,
    TokenFile,
)
from lro.serving._grpc import AsyncOperationsServicer, OperationsServicer
from lro.serving._interceptors import AsyncOperationInterceptor, OperationInterceptor
from lro.serving._requests import DEFAULT_MAX_WAIT

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from lro._client import Client
    from lro.aio import Client as AsyncClient


def http_app(
    client: Client | AsyncClient,
    *,
    max_wait: float = DEFAULT_MAX_WAIT,
    resume_auth: ResumeAuthenticator | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ui: bool = False,
    auth: AuthArgument = None,
) -> Starlette:
    """The Operations service as an ASGI app; needs the ``lro[http]`` extra.

    With ``resume_auth`` it also serves the resume endpoint that Cloud Tasks calls
    (``PUT /operations/{handler}?operation={name}``); with ``ui`` the web dashboard at
    ``/ui/``. With ``auth`` every other route needs a credential of the right role.
    See ``lro.serving._http`` for the routes and the arguments.
    """
    from lro.serving._http import http_app as make_app

    return make_app(
        client,
        max_wait=max_wait,
        resume_auth=resume_auth,
        max_attempts=max_attempts,
        ui=ui,
        auth=auth,
    )


__all__ = [
    "AsyncOperationInterceptor",
    "AsyncOperationsServicer",
    "Authenticator",
    "BearerTokens",
    "Caller",
    "GoogleIdTokens",
    "OperationInterceptor",
    "OperationsServicer",
    "Role",
    "TokenFile",
    "http_app",
]
