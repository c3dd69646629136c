"""The dashboard over plain HTTP: CSRF protection of its buttons, its headers, and
errors that are answers, not crashes."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from google.rpc import code_pb2

import lro
import lro.testing
from lro._resume.plan import wakeup_store
from lro.serving import http_app
from tests.serving.conftest import UvicornThread


def fetch(
    url: str, body: object = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of a GET, or a POST of ``body`` as JSON."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers or {})
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def page_token(ui_url: str) -> str:
    """The CSRF token that the list page hands out, checked against its cookie."""
    status, headers, body = fetch(f"{ui_url}/ui/")
    assert status == 200
    token = re.search(rb'name="lro-csrf" content="([^"]+)"', body)
    assert token is not None
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"lro_csrf={token.group(1).decode()};")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/ui/" in cookie
    return token.group(1).decode()


def test_pages_forbid_other_origins_scripts_and_frames(ui_url: str) -> None:
    for path in ("/ui/", "/ui/operations/x", "/ui/-/static/dashboard.js"):
        status, headers, _ = fetch(ui_url + path)
        assert status == 200, path
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no token, no cookie
        {"x-csrf-token": "TOKEN"},  # the token without its cookie
        {"cookie": "lro_csrf=TOKEN"},  # the cookie without the token
        {"cookie": "lro_csrf=TOKEN", "x-csrf-token": "TOKEN2"},  # a different token
        {"cookie": "lro_csrf=TOKEN", "x-csrf-token": "TOKEN", "origin": "http://evil.test"},
    ],
)
def test_a_button_without_its_csrf_token_changes_nothing(
    ui_client: lro.Client, ui_url: str, headers: dict[str, str]
) -> None:
    op = ui_client.new_operation()
    token = page_token(ui_url)
    sent = {key: value.replace("TOKEN", token) for key, value in headers.items()}
    for verb in ("cancel", "delete"):
        status, _, body = fetch(f"{ui_url}/ui/-/api/{verb}", {"name": op.name}, sent)
        assert status == 403, body
        assert json.loads(body)["error"]["status"] == "PERMISSION_DENIED"
    assert not ui_client.get_operation(op.name).done


def test_a_button_with_its_token_cancels(ui_client: lro.Client, ui_url: str) -> None:
    op = ui_client.new_operation()
    token = page_token(ui_url)
    headers = {"cookie": f"lro_csrf={token}", "x-csrf-token": token, "origin": ui_url}
    status, _, body = fetch(f"{ui_url}/ui/-/api/cancel", {"name": op.name}, headers)
    assert status == 200, body
    assert json.loads(body)["status"] == "cancelled"
    assert ui_client.get_operation(op.name).error.code == code_pb2.CANCELLED


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/ui/-/api/operation?name=not-a-name", 400, "INVALID_ARGUMENT"),
        ("/ui/-/api/operation?name=operations/missing", 404, "NOT_FOUND"),
        ("/ui/-/api/operations?filter=done%20%3D", 400, "INVALID_ARGUMENT"),
        ("/ui/-/api/operations?pageToken=forged", 400, "INVALID_ARGUMENT"),
        ("/ui/-/api/operations?pageSize=many", 400, "INVALID_ARGUMENT"),
        ("/ui/-/static/secrets.txt", 404, "NOT_FOUND"),
        ("/ui/-/static/index.html", 404, "NOT_FOUND"),
    ],
)
def test_bad_requests_get_json_errors(ui_url: str, path: str, status: int, code: str) -> None:
    answered, _, body = fetch(ui_url + path)
    assert answered == status, body
    assert json.loads(body)["error"]["status"] == code


def test_bad_button_bodies_are_invalid_argument(ui_url: str) -> None:
    token = page_token(ui_url)
    headers = {"cookie": f"lro_csrf={token}", "x-csrf-token": token}
    bodies: list[object] = [[], {"name": 7}, {"name": "bad name"}, "text"]
    for body in bodies:
        status, _, answer = fetch(f"{ui_url}/ui/-/api/delete", body, headers)
        assert status == 400, answer
        assert json.loads(answer)["error"]["status"] == "INVALID_ARGUMENT"


def test_no_path_reaches_a_file_outside_the_static_ones(ui_url: str) -> None:
    for path in ("/ui/-/static/..%2Fcsrf.py", "/ui/-/static/%2E%2E/routes.py"):
        _, _, body = fetch(ui_url + path)
        assert b"import" not in body, path


def test_names_are_text_in_the_page_never_markup(ui_url: str) -> None:
    status, _, body = fetch(ui_url + "/ui/operations/%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert status == 200
    assert b"<script>alert(1)" not in body
    assert b"&lt;script&gt;alert(1)" in body


def test_the_app_without_ui_has_no_dashboard(client: lro.Client) -> None:
    from lro.serving import http_app
    from tests.serving.conftest import UvicornThread

    server = UvicornThread(http_app(client))
    try:
        status, _, _ = fetch(f"{server.url}/ui/")
    finally:
        server.stop()
    assert status == 404


def test_a_lease_is_shown_until_it_ends_on_the_clients_clock() -> None:
    # A lease of 30 s has ended 31 s later on the client's clock, which the dashboard
    # reads, though less than a second of real time passed.
    with lro.testing.Environment() as env:
        store = env.client.store
        op = env.client.start("elsewhere", registered_elsewhere=True)
        [held] = wakeup_store(store).claim_wakeups(
            "someone", lease_us=30_000_000, limit=1, handlers=["elsewhere"], pinned_to=""
        )
        server = UvicornThread(http_app(env.client, ui=True))
        try:
            status, _, body = fetch(f"{server.url}/ui/-/api/operation?name={op.name}")
            env.clock.advance(31)
            _, _, after = fetch(f"{server.url}/ui/-/api/operation?name={op.name}")
        finally:
            server.stop()
    assert status == 200
    assert json.loads(body)["wakeup"]["leaseHolder"] == held.lease_owner == "someone"
    assert json.loads(after)["wakeup"]["leaseHolder"] == ""
