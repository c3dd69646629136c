"""The Operations service over HTTP/JSON, checked with google-api-core's REST client."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from google.api_core import exceptions
from google.protobuf import any_pb2, struct_pb2, wrappers_pb2
from google.rpc import code_pb2

import lro
from tests.serving.conftest import RestClientFactory


def _call(
    url: str, method: str = "GET", body: bytes | None = None
) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize("top_level", [True, False], ids=["operations/id", "parent/operations/id"])
def test_rest_client_get_list_cancel_delete(
    client: lro.Client, rest_client: RestClientFactory, top_level: bool
) -> None:
    parent = "" if top_level else "projects/p/locations/l"
    rest = rest_client(top_level)
    metadata = struct_pb2.Struct()
    metadata.update({"progress": 0.25})
    ops = [client.new_operation(parent=parent, metadata=metadata) for _ in range(7)]
    ops[0].done(wrappers_pb2.StringValue(value="ok"))
    assert rest.get_operation(ops[0].name) == ops[0].get_operation()
    assert rest.get_operation(ops[1].name) == ops[1].get_operation()
    collection = "operations" if top_level else parent
    listed = list(rest.list_operations(collection, "", page_size=3))
    assert len(listed) == 7
    assert {op.name for op in listed} == {op.name for op in ops}
    assert [op.name for op in rest.list_operations(collection, "done = true")] == [ops[0].name]
    rest.cancel_operation(ops[1].name)
    cancelled = rest.get_operation(ops[1].name)
    assert cancelled.error.code == code_pb2.CANCELLED
    assert ops[1].cancelled
    rest.delete_operation(ops[2].name)
    with pytest.raises(exceptions.NotFound):
        rest.get_operation(ops[2].name)
    with pytest.raises(exceptions.BadRequest):
        list(rest.list_operations(collection, "done = perhaps"))


def test_wait_route(client: lro.Client, http_url: str) -> None:
    op = client.new_operation()
    status, body = _call(f"{http_url}/v1/{op.name}:wait", "POST", b'{"timeout": "0.2s"}')
    assert (status, body) == (200, {"name": op.name})
    threading.Timer(0.2, lambda: op.done(wrappers_pb2.StringValue(value="x"))).start()
    started = time.monotonic()
    status, body = _call(f"{http_url}/v1/{op.name}:wait", "POST", b'{"timeout": "30s"}')
    assert status == 200
    assert body["done"] is True
    assert time.monotonic() - started < 10


def test_errors_are_json_with_the_right_status(http_url: str, client: lro.Client) -> None:
    op = client.new_operation()
    cases = [
        ("GET", "/v1/operations/missing", None, 404, "NOT_FOUND"),
        ("GET", "/v1/nothing/here", None, 400, "INVALID_ARGUMENT"),
        ("GET", "/v1/operations?pageSize=-1", None, 400, "INVALID_ARGUMENT"),
        ("GET", "/v1/operations?pageSize=lots", None, 400, "INVALID_ARGUMENT"),
        ("GET", "/v1/operations?pageToken=forged", None, 400, "INVALID_ARGUMENT"),
        ("POST", f"/v1/{op.name}:wait", b"{not json", 400, "INVALID_ARGUMENT"),
        ("POST", f"/v1/{op.name}:wait", b'{"timeout": 5}', 400, "INVALID_ARGUMENT"),
        ("POST", f"/v1/{op.name}:wait", b" " * (65 * 1024), 429, "RESOURCE_EXHAUSTED"),
        ("POST", f"/v1/{op.name}:explode", b"{}", 404, "NOT_FOUND"),
        ("DELETE", "/v1/operations/missing", None, 404, "NOT_FOUND"),
    ]
    for method, path, body, status, code in cases:
        answer_status, answer = _call(http_url + path, method, body)
        assert (answer_status, answer["error"]["status"]) == (status, code), path  # type: ignore[index]
    assert not client.get_operation(op.name).done


def test_payloads_of_unknown_types_keep_their_bytes(client: lro.Client, http_url: str) -> None:
    metadata = any_pb2.Any(type_url="type.googleapis.com/elsewhere.Progress", value=b"\x08\x07")
    op = client.new_operation(metadata=metadata)
    status, body = _call(f"{http_url}/v1/{op.name}")
    assert status == 200
    assert body == {
        "name": op.name,
        "metadata": {"@type": "type.googleapis.com/elsewhere.Progress", "value": "CAc="},
    }
