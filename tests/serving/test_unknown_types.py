"""Operations holding a message type the server never imported render as JSON anyway.

The type is compiled here, in a descriptor pool of its own, so neither the server in
this process nor the ``lro`` command in a child process knows it. Every JSON answer
(HTTP list, get and wait, the dashboard's API, the ``lro`` command) renders its Any as
``{"@type": url, "value": base64}``, nested ones too, and none fails.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, status_pb2

import lro
from lro.serving import http_app
from tests.commands import run_lro
from tests.serving.conftest import UvicornThread
from tests.unknown_type import TYPE_NAME, opaque, secret


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/unknown.db"


@pytest.fixture
def operations(url: str) -> Iterator[dict[str, Any]]:
    """Three operations: running with unknown metadata, done with an unknown response,
    failed with an unknown error detail; each with the JSON it must render as."""
    with lro.Client(url, worker=False) as client:
        running = client.new_operation(metadata=secret("progress"))
        finished = client.new_operation()
        finished.done(secret("answer"))
        failed = client.new_operation()
        detail = any_pb2.Any()
        detail.Pack(secret("why"))
        failed.error(status_pb2.Status(code=code_pb2.ABORTED, message="no", details=[detail]))
        yield {
            running.name: {"metadata": opaque(secret("progress"))},
            finished.name: {"response": opaque(secret("answer"))},
            failed.name: {
                "error": {"code": 10, "message": "no", "details": [opaque(secret("why"))]}
            },
        }


def _expected(name: str, rendered: dict[str, Any], done: bool) -> dict[str, Any]:
    return {"name": name, **({"done": True} if done else {}), **rendered}


def _get(url: str, method: str = "GET", body: bytes | None = None) -> Any:
    request = urllib.request.Request(url, method=method, data=body)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


def test_http_list_get_wait_and_dashboard(url: str, operations: dict[str, Any]) -> None:
    with lro.Client(url, worker=False) as client:
        server = UvicornThread(http_app(client, ui=True))
        try:
            listed = _get(f"{server.url}/v1/operations")["operations"]
            for name, rendered in operations.items():
                done = "metadata" not in rendered
                expected = _expected(name, rendered, done)
                assert expected in listed
                assert _get(f"{server.url}/v1/{name}") == expected
                waited = _get(f"{server.url}/v1/{name}:wait", "POST", b'{"timeout": "0s"}')
                assert waited == expected
                page = _get(f"{server.url}/ui/-/api/operation?name={name}")
                assert page["operation"] == expected
            rows = _get(f"{server.url}/ui/-/api/operations")["operations"]
            assert sorted(row["name"] for row in rows) == sorted(operations)
        finally:
            server.stop()


def test_command_line_get_list_wait(url: str, operations: dict[str, Any]) -> None:
    listed = run_lro("list", "--db", url, "--output", "json")
    assert listed.returncode == 0, listed.stderr
    lines = [json.loads(line) for line in listed.stdout.splitlines()]
    for name, rendered in operations.items():
        done = "metadata" not in rendered
        expected = _expected(name, rendered, done)
        assert expected in lines
        got = run_lro("get", "--db", url, name)
        assert got.returncode == 0, got.stderr
        assert json.loads(got.stdout) == expected
        waited = run_lro("wait", "--db", url, "--timeout", "0", name)
        assert "Traceback" not in waited.stderr
        assert json.loads(waited.stdout) == expected
    table = run_lro("list", "--db", url, "--output", "table")
    assert table.returncode == 0, table.stderr
    assert TYPE_NAME in table.stdout
