"""Random names, tokens, filters and page sizes on both transports: never a crash.

Every answer is a success or a clear client error (INVALID_ARGUMENT, NOT_FOUND); none
is INTERNAL or UNKNOWN, and the operations in the store are untouched.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
from google.protobuf import duration_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lro

EXPECTED_GRPC = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}
EXPECTED_HTTP = {200: "", 400: "INVALID_ARGUMENT", 404: "NOT_FOUND"}
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NAMES = st.one_of(
    st.text(max_size=60),
    st.from_regex(r"([a-z]{1,8}/[a-z0-9]{1,8}/)?operations/[A-Za-z0-9._~-]{1,12}", fullmatch=True),
    st.builds(lambda s: "operations/" + s, st.text(max_size=30)),
    st.just("operations/" + "a" * 2000),
)
FRAGMENTS = st.sampled_from(
    [
        "done",
        "error.code",
        "metadata.@type",
        "create_time",
        "update_time",
        "name",
        "=",
        "!=",
        "<",
        ">=",
        ":",
        "AND",
        "OR",
        "NOT",
        "-",
        "(",
        ")",
        "true",
        "5",
        '"2024-01-01T00:00:00Z"',
        '"operations/a*"',
        "CANCELLED",
        '"',
        "\\",
        "*",
        "x",
    ]
)
FILTERS = st.one_of(
    st.text(max_size=80),
    st.lists(FRAGMENTS, max_size=12).map(" ".join),
    st.just("(" * 200 + "done = true" + ")" * 200),
)
TOKENS = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"[A-Za-z0-9_-]{0,60}\.[A-Za-z0-9_-]{0,50}", fullmatch=True),
)
PAGE_SIZES = st.integers(min_value=-(2**31), max_value=2**31 - 1)


def _grpc_code(call: object) -> grpc.StatusCode:
    try:
        call()  # type: ignore[operator]
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def test_grpc_bad_input(client: lro.Client, channel: grpc.Channel) -> None:
    keep = client.new_operation()
    stub = operations_grpc.OperationsStub(channel)

    @SETTINGS
    @given(name=NAMES, query_filter=FILTERS, token=TOKENS, size=PAGE_SIZES)
    def check(name: str, query_filter: str, token: str, size: int) -> None:
        calls = [
            lambda: stub.GetOperation(operations_pb2.GetOperationRequest(name=name), timeout=10),
            lambda: stub.CancelOperation(
                operations_pb2.CancelOperationRequest(name=name), timeout=10
            ),
            lambda: stub.WaitOperation(
                operations_pb2.WaitOperationRequest(name=name, timeout=duration_pb2.Duration()),
                timeout=10,
            ),
            lambda: stub.ListOperations(
                operations_pb2.ListOperationsRequest(
                    name=name, filter=query_filter, page_token=token, page_size=size
                ),
                timeout=10,
            ),
            lambda: stub.ListOperations(
                operations_pb2.ListOperationsRequest(filter=query_filter, page_size=size),
                timeout=10,
            ),
        ]
        for call in calls:
            code = _grpc_code(call)
            assert code == grpc.StatusCode.OK or code in EXPECTED_GRPC, (code, name, query_filter)

    check()
    assert client.get_operation(keep.name) == keep.get_operation()
    assert not keep.get_operation().done


def _http_status(url: str, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            json.loads(response.read())
            return response.status, ""
    except urllib.error.HTTPError as error:
        body = json.loads(error.read())
        return error.code, str(body["error"]["status"])


def test_http_bad_input(client: lro.Client, http_url: str) -> None:
    keep = client.new_operation()

    @SETTINGS
    @given(name=NAMES, query_filter=FILTERS, token=TOKENS, size=PAGE_SIZES)
    def check(name: str, query_filter: str, token: str, size: int) -> None:
        path = urllib.parse.quote(name, safe="/")
        query = urllib.parse.urlencode(
            {"filter": query_filter, "pageToken": token, "pageSize": str(size)}
        )
        answers = [
            _http_status(f"{http_url}/v1/{path}"),
            _http_status(f"{http_url}/v1/{path}:cancel", "POST"),
            _http_status(f"{http_url}/v1/operations?{query}"),
        ]
        for status, code in answers:
            assert EXPECTED_HTTP.get(status) == code, (status, code, name, query_filter)

    check()
    assert not client.get_operation(keep.name).done
