"""The interceptors hand the method and x-alis-operation-id to new_operation."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import grpc.aio
import pytest
from google.protobuf import wrappers_pb2

import lro
from tests.serving.intercepted import aio_server, method_handler, sync_server

METHOD = "/test.Export/Start"
Start = Callable[..., operations_pb2.Operation]


def _resumable_start(client: lro.Client, seen: list[tuple[str, str, str]]) -> Start:
    """A service method: continues the resumed operation, then starts a child."""

    def start(request: wrappers_pb2.StringValue, context: object) -> operations_pb2.Operation:
        op = client.new_operation()
        child = client.new_operation()  # the header is used once only
        seen.append((op.name, op.resume_method, child.name))
        return op.return_rpc()

    return start


def _handler(behavior: Callable[..., Any]) -> grpc.GenericRpcHandler[Any, Any]:
    return method_handler("test.Export", "Start", behavior, wrappers_pb2.StringValue)


def _sync_server(client: lro.Client, seen: list[tuple[str, str, str]]) -> Iterator[str]:
    yield from sync_server(_handler(_resumable_start(client, seen)))


def _aio_server(client: lro.Client, seen: list[tuple[str, str, str]]) -> Iterator[str]:
    yield from aio_server(_handler, _resumable_start(client, seen))


MakeServer = Callable[[lro.Client, list[tuple[str, str, str]]], Iterator[str]]


@contextlib.contextmanager
def _calling(
    client: lro.Client, make_server: MakeServer, seen: list[tuple[str, str, str]]
) -> Iterator[Callable[..., operations_pb2.Operation]]:
    """The service's method, callable on a server that runs under the interceptor."""
    servers = make_server(client, seen)
    address = next(servers)
    try:
        with grpc.insecure_channel(address) as channel:
            yield channel.unary_unary(
                METHOD,
                request_serializer=wrappers_pb2.StringValue.SerializeToString,
                response_deserializer=operations_pb2.Operation.FromString,
            )
    finally:
        next(servers, None)


@pytest.mark.parametrize("make_server", [_sync_server, _aio_server], ids=["sync", "aio"])
def test_interceptor_continues_the_resumed_operation(
    client: lro.Client, make_server: MakeServer
) -> None:
    seen: list[tuple[str, str, str]] = []
    with _calling(client, make_server, seen) as call:
        first = call(wrappers_pb2.StringValue(), timeout=10)
        operation_id = first.name.rsplit("/", 1)[-1]
        resumed = call(
            wrappers_pb2.StringValue(),
            metadata=((lro.OPERATION_ID_HEADER, operation_id),),
            timeout=10,
        )
        with pytest.raises(grpc.RpcError) as caught:
            call(wrappers_pb2.StringValue(), metadata=((lro.OPERATION_ID_HEADER, "a b"),))
    assert resumed.name == first.name
    assert [entry[1] for entry in seen] == [METHOD, METHOD]
    assert seen[1][0] == first.name
    assert seen[1][2] != first.name  # the child is new
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(seen) == 2


@pytest.mark.parametrize("make_server", [_sync_server, _aio_server], ids=["sync", "aio"])
def test_a_timed_out_workflows_resume_reaches_the_operation(
    client: lro.Client, make_server: MakeServer
) -> None:
    with _calling(client, make_server, []) as call:
        on_time, late = (call(wrappers_pb2.StringValue(), timeout=10) for _ in range(2))
        for operation, timed_out in ((on_time, "false"), (late, "true")):
            header = (lro.OPERATION_ID_HEADER, operation.name.rsplit("/", 1)[-1])
            call(
                wrappers_pb2.StringValue(),
                metadata=(header, ("x-alis-wait-timed-out", timed_out)),
                timeout=10,
            )
    assert not client.new_operation(existing=on_time.name).wait_timed_out
    assert client.new_operation(existing=late.name).wait_timed_out
