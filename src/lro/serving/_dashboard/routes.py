"""The dashboard's routes: two pages, their static files, and the JSON they read.

- ``GET /ui/``: the list (collection, AIP-160 filter, pages, auto-refresh)
- ``GET /ui/{name}``: one operation, ``name`` as ``operations/ID`` or
  ``{parent}/operations/ID``
- ``GET /ui/-/static/{file}``: the CSS and JavaScript
- ``GET /ui/-/api/operations`` and ``GET /ui/-/api/operation?name=``: what the pages show
- ``POST /ui/-/api/cancel`` and ``POST /ui/-/api/delete`` (JSON ``{"name": ...}``): the
  buttons, behind the CSRF check of ``csrf``

``-`` is never a collection id, so these paths cannot meet an operation's name. Every
read and write goes through the client that serves the Operations routes.
"""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Awaitable, Callable
from functools import cache
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from lro._client_base import ClientBase
from lro._core.errors import Error, InvalidArgument, NotFound
from lro._core.names import validate_name
from lro._resume.plan import wakeup_store
from lro._store.base import Wakeup
from lro.serving._dashboard import csrf
from lro.serving._dashboard.views import detail, summary
from lro.serving._http import _body, _error_response, _page_size

PREFIX = "/ui"
STATIC_FILES = {
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
}
# The pages load only their own files and talk only to their own origin.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
JsonEndpoint = Callable[[Request], Awaitable[object]]


@cache
def _static(file: str) -> bytes:
    return resources.files("lro.serving._dashboard").joinpath("static", file).read_bytes()


def _base(request: Request) -> str:
    return f"{request.scope.get('root_path', '')}{PREFIX}/"


def _page(template: str, request: Request, operation: str = "") -> Response:
    """A page with its base path, CSRF token and operation name filled in."""
    token = csrf.page_token(request)
    text = _static(template).decode()
    for key, value in (("base", _base(request)), ("csrf", token), ("operation", operation)):
        text = text.replace("{{" + key + "}}", html.escape(value))
    response = Response(text, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)
    response.headers["cache-control"] = "no-store"
    csrf.set_cookie(response, token, _base(request))
    return response


async def _to_list(request: Request) -> Response:
    return RedirectResponse(_base(request))


async def _list_page(request: Request) -> Response:
    return _page("index.html", request)


async def _operation_page(request: Request) -> Response:
    """The page of any name: a bad or unknown one is told on the page by the API."""
    return _page("operation.html", request, request.path_params["name"][:1000])


async def _static_file(request: Request) -> Response:
    file = request.path_params["file"]
    if file not in STATIC_FILES:
        return _error_response(NotFound(f"/ui/-/static/{file[:100]}"))
    headers = {**SECURITY_HEADERS, "cache-control": "no-cache"}
    return Response(_static(file), media_type=STATIC_FILES[file], headers=headers)


def _json_endpoint(handle: JsonEndpoint) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            body = await handle(request)
        except Exception as exc:
            return _error_response(exc)
        return JSONResponse(body, headers={"cache-control": "no-store"})

    return endpoint


class _Api:
    """What the pages read and the buttons do, on the client of the Operations routes."""

    def __init__(self, client: ClientBase) -> None:
        self.client = client

    async def operations(self, request: Request) -> object:
        query = request.query_params
        return await asyncio.to_thread(
            self._operations,
            query.get("collection", "") or "operations",
            query.get("filter", ""),
            _page_size(query.get("pageSize", "")),
            query.get("pageToken", ""),
        )

    def _operations(self, collection: str, filter: str, size: int, token: str) -> object:
        records, next_token = self.client._list_records_now(filter, size, token, collection)
        rows = [summary(record.operation, record) for record in records]
        return {"operations": rows, "nextPageToken": next_token}

    async def operation(self, request: Request) -> object:
        return await asyncio.to_thread(self._operation, request.query_params.get("name", ""))

    def _operation(self, name: str) -> object:
        store = self.client.store
        record = store.get(validate_name(name))
        wakeup = self._wakeup(name)
        children = store.get_many(wakeup.children) if wakeup else {}
        done = {child: record.done for child, record in children.items()}
        return detail(record, wakeup, done, self.client.runtime.clock.now_us())

    def _wakeup(self, name: str) -> Wakeup | None:
        try:
            return wakeup_store(self.client.store).get_wakeup(name)
        except Error:  # a store without wake-ups (a Go package's table)
            return None

    async def cancel(self, request: Request) -> object:
        name = await _posted_name(request)
        return summary(await asyncio.to_thread(self.client._cancel_now, name), None)

    async def delete(self, request: Request) -> object:
        await asyncio.to_thread(self.client._delete_now, await _posted_name(request))
        return {}


async def _posted_name(request: Request) -> str:
    """The operation named by a button's POST, once its CSRF token is checked."""
    csrf.check(request)
    try:
        body: Any = json.loads(await _body(request))
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        raise InvalidArgument('the body must be JSON {"name": "operations/..."}')
    return validate_name(body["name"])


def dashboard_routes(client: ClientBase) -> list[BaseRoute]:
    """The routes of the dashboard over ``client``, for the HTTP app."""
    api = _Api(client)
    return [
        Route(PREFIX, _to_list, methods=["GET"]),
        Route(f"{PREFIX}/", _list_page, methods=["GET"]),
        Route(f"{PREFIX}/-/static/{{file}}", _static_file, methods=["GET"]),
        Route(f"{PREFIX}/-/api/operations", _json_endpoint(api.operations), methods=["GET"]),
        Route(f"{PREFIX}/-/api/operation", _json_endpoint(api.operation), methods=["GET"]),
        Route(f"{PREFIX}/-/api/cancel", _json_endpoint(api.cancel), methods=["POST"]),
        Route(f"{PREFIX}/-/api/delete", _json_endpoint(api.delete), methods=["POST"]),
        Route(f"{PREFIX}/{{name:path}}", _operation_page, methods=["GET"]),
    ]
