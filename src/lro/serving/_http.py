"""The Operations service as HTTP/JSON (proto3 JSON), an ASGI app on Starlette.

Routes, as google-api-core's REST transport calls them (``{name}`` may be a top-level
``operations/{id}`` or a resource-scoped ``{parent}/operations/{id}``):

- ``GET /v1/{name}``: GetOperation
- ``GET /v1/operations``, ``GET /v1/{parent}/operations``: ListOperations with query
  parameters ``filter``, ``pageSize`` and ``pageToken`` (snake_case accepted too)
- ``DELETE /v1/{name}``: DeleteOperation
- ``POST /v1/{name}:cancel``: CancelOperation
- ``POST /v1/{name}:wait``: WaitOperation, body ``{"timeout": "5s"}``; a wait whose
  caller disconnects ends then
- ``GET /healthz``: 200 ``{"status": "ok"}`` if the store answers a read, else 503

and the resume endpoint that Cloud Tasks calls (only with ``resume_auth``):

- ``PUT /operations/{handler}?operation={name}&wakeup={token}``: run the registered
  handler if that wake-up of the operation is due (see ``lro._resume.endpoint``)
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor

import google.longrunning.operations_proto_pb2 as operations_pb2
import google.rpc.code_pb2 as code_pb2
from google.protobuf import json_format
from google.protobuf.message import Message
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lro._client import Client
from lro._client_base import ClientBase
from lro._core.errors import Error, InvalidArgument, NotFound, PermissionDenied
from lro._core.names import COLLECTION
from lro._core.operation_json import message_json
from lro._resume.auth import ResumeAuthenticator
from lro._resume.endpoint import DEFAULT_MAX_ATTEMPTS, resume_now
from lro.aio import Client as AsyncClient
from lro.aio._client import face_of
from lro.serving._auth import AuthArgument, ServiceAuth
from lro.serving._guards import HttpAuth
from lro.serving._requests import (
    DEFAULT_MAX_WAIT,
    Waits,
    list_async,
    wait_seconds,
)
from lro.serving._status import HTTP_STATUS, error_status

MAX_BODY_BYTES = 64 * 1024
MAX_INT32 = 2**31 - 1
AUTH_THREADS = 2  # certificate fetches are single-flight; more threads would only wait
RESUME_THREADS = 8
HEALTH_PROBE = "operations/lro-healthz"  # read by /healthz; need not exist
Endpoint = Callable[[Request], Awaitable[Message | None]]
LOGGER = logging.getLogger("lro.serving")


class PayloadTooLarge(Error):
    """The request body is too large."""

    code = code_pb2.RESOURCE_EXHAUSTED


def _error_response(exc: BaseException) -> JSONResponse:
    code, message = error_status(exc)
    status = HTTP_STATUS.get(code, 500)
    body = {"error": {"code": status, "message": message, "status": code_pb2.Code.Name(code)}}
    return JSONResponse(body, status_code=status)


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the request body is larger than {MAX_BODY_BYTES} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the request body is larger than {MAX_BODY_BYTES} bytes")
    return body


async def _parsed(request: Request, message: Message) -> Message:
    """``message`` filled from a JSON body (an empty body leaves it empty)."""
    body = await _body(request)
    if body.strip():
        try:
            json_format.Parse(body, message)
        except (json_format.ParseError, UnicodeDecodeError, RecursionError) as exc:
            raise InvalidArgument(
                f"the body is not a valid JSON {message.DESCRIPTOR.name}: {exc}"
            ) from None
    return message


def _page_size(text: str) -> int:
    """The ``pageSize`` query parameter: a whole number that fits the proto's int32."""
    try:
        size = int(text or "0")
    except ValueError:
        raise InvalidArgument(f"pageSize must be a whole number, got {text[:40]!r}") from None
    if not 0 <= size <= MAX_INT32:
        raise InvalidArgument(f"pageSize must be between 0 and {MAX_INT32}, got {text[:40]}")
    return size


async def _until_disconnected(request: Request) -> None:
    """Return once the client has gone (call it after the body has been read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _unless_disconnected(
    request: Request, answer: Coroutine[object, object, Message]
) -> Message | None:
    """``answer``'s result; None, with ``answer`` cancelled, if the client goes first."""
    answering = asyncio.ensure_future(answer)
    watching = asyncio.ensure_future(_until_disconnected(request))
    try:
        await asyncio.wait((answering, watching), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (answering, watching):
            task.cancel()
        await asyncio.gather(answering, watching, return_exceptions=True)
    if answering.cancelled():
        return None
    return answering.result()


class _Service:
    def __init__(self, client: AsyncClient, max_wait: float) -> None:
        self.client = client
        self.max_wait = max_wait
        self.waits = Waits()

    def _read_store(self) -> None:
        self.client.store.get_many([HEALTH_PROBE])

    async def health(self, request: Request) -> Response:
        """200 if the store answers a read; 503, saying no more, if it does not."""
        try:
            await self.client._blocking(self._read_store)
        except Exception:
            LOGGER.warning("/healthz: the store did not answer", exc_info=True)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def get_or_list(self, request: Request) -> Message:
        path = request.path_params["path"]
        if path == COLLECTION or path.endswith(f"/{COLLECTION}"):
            query = request.query_params
            list_request = operations_pb2.ListOperationsRequest(
                name=path,
                filter=query.get("filter", ""),
                page_size=_page_size(query.get("pageSize", query.get("page_size", ""))),
                page_token=query.get("pageToken", query.get("page_token", "")),
            )
            return await list_async(self.client, list_request)
        return await self.client.get_operation(path)

    async def delete(self, request: Request) -> None:
        await self.client.delete_operation(request.path_params["path"])

    async def post(self, request: Request) -> Message | None:
        name, _, verb = request.path_params["path"].rpartition(":")
        if verb == "cancel":
            await _parsed(request, operations_pb2.CancelOperationRequest())
            await self.client.cancel_operation(name)
            return None
        if verb == "wait":
            wait = await _parsed(request, operations_pb2.WaitOperationRequest())
            assert isinstance(wait, operations_pb2.WaitOperationRequest)
            timeout = wait_seconds(wait, None, self.max_wait)
            with self.waits.admitted():
                return await _unless_disconnected(
                    request, self.waits.latest(self.client, name, timeout)
                )
        raise NotFound(request.path_params["path"])


class _Resume:
    """The resume endpoint. Authentication and handler runs have threads of their own,
    so that they never hold the threads that the Operations routes share."""

    def __init__(
        self, client: ClientBase, authenticator: ResumeAuthenticator | None, max_attempts: int
    ) -> None:
        self.client = client
        self.authenticator = authenticator
        self.max_attempts = max_attempts
        self._auth_threads = ThreadPoolExecutor(AUTH_THREADS, "lro-resume-auth")
        self._resume_threads = ThreadPoolExecutor(RESUME_THREADS, "lro-resume")

    async def put(self, request: Request) -> Response:
        loop = asyncio.get_running_loop()
        query = request.query_params
        name = query.get("operation", "")
        try:
            if self.authenticator is None:
                raise PermissionDenied("this server takes no resumes: it has no resume_auth")
            authorization = request.headers.get("authorization")
            await loop.run_in_executor(self._auth_threads, self.authenticator.verify, authorization)
            if not name:
                raise InvalidArgument("the resume needs ?operation={name}")
            run = functools.partial(
                resume_now,
                self.client.runtime,
                request.path_params["handler"],
                name,
                query.get("wakeup", ""),
                self.max_attempts,
            )
            outcome = await loop.run_in_executor(self._resume_threads, run)
        except Exception as exc:
            return _error_response(exc)
        body = {"operation": name, "outcome": outcome.outcome}
        return JSONResponse({**body, "reason": outcome.reason} if outcome.reason else body)


def _endpoint(handle: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            message = await handle(request)
        except ClientDisconnect:  # gone before its body arrived: nobody hears an answer
            return Response(status_code=499)
        except Exception as exc:
            return _error_response(exc)
        if message is None:
            return Response(b"{}", media_type="application/json")
        return Response(json.dumps(message_json(message)), media_type="application/json")

    return endpoint


async def _no_route(request: Request, exc: Exception) -> Response:
    """Paths and methods outside the service, answered as JSON errors too."""
    if isinstance(exc, HTTPException) and exc.status_code == 405:
        body = {"error": {"code": 405, "message": "method not allowed", "status": "UNIMPLEMENTED"}}
        return JSONResponse(body, status_code=405)
    return _error_response(NotFound(request.url.path[:200]))


def http_app(
    client: Client | AsyncClient,
    *,
    max_wait: float = DEFAULT_MAX_WAIT,
    resume_auth: ResumeAuthenticator | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ui: bool = False,
    auth: AuthArgument = None,
) -> Starlette:
    """The Operations service over ``client``'s store as an ASGI app (run it with uvicorn).

    Args:
        client: the store to serve: an ``lro.aio.Client``, or an ``lro.Client`` served
            through its asyncio face.
        max_wait: longest ``:wait``, in seconds, when the body gives no shorter timeout.
        resume_auth: who may call the resume endpoint (``lro.OidcAuthenticator`` for
            Cloud Tasks, ``lro.SharedSecretAuthenticator`` elsewhere); without it the
            endpoint refuses every call with 403.
        max_attempts: failed runs of a resumed handler before its operation fails.
        ui: serve the dashboard at ``/ui/`` too (see ``lro.serving._dashboard``).
        auth: who may call the routes, as for ``OperationsServicer`` (the resume
            endpoint keeps ``resume_auth``); None leaves them open.
    """
    service = _Service(face_of(client), max_wait)
    resume = _Resume(client, resume_auth, max_attempts)
    service_auth = ServiceAuth.of(auth)
    app = Starlette(
        middleware=[Middleware(HttpAuth, auth=service_auth)] if service_auth else [],
        exception_handlers={404: _no_route, 405: _no_route},
        routes=[
            Route("/v1/{path:path}", _endpoint(service.get_or_list), methods=["GET"]),
            Route("/v1/{path:path}", _endpoint(service.delete), methods=["DELETE"]),
            Route("/v1/{path:path}", _endpoint(service.post), methods=["POST"]),
            Route("/operations/{handler}", resume.put, methods=["PUT"]),
            Route("/healthz", service.health, methods=["GET"]),
            *(_dashboard_routes(client) if ui else ()),
        ],
    )
    app.state.waits = service.waits  # the :wait calls in flight
    return app


def _dashboard_routes(client: ClientBase) -> list[BaseRoute]:
    from lro.serving._dashboard.routes import dashboard_routes

    return dashboard_routes(client)
