"""Under the interceptors, a request message's ``request_id`` field is the AIP-155
request id of the first operation the call creates: a retried call gets the same
operation, over real gRPC servers on 127.0.0.1."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import grpc.aio
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

import lro
from lro._calls import request_id_in
from tests.serving.intercepted import aio_server, method_handler, sync_server


def _message_classes() -> tuple[type[Any], type[Any]]:
    """``test.CreateThingRequest {string request_id; string title}``, and a request whose
    ``request_id`` is a number (not an AIP-155 request id)."""
    file = descriptor_pb2.FileDescriptorProto(name="lro_test_request_ids.proto", package="test")
    string, number = (
        descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
        descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    )
    optional = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    create = file.message_type.add(name="CreateThingRequest")
    create.field.add(name="request_id", number=1, type=string, label=optional)
    create.field.add(name="title", number=2, type=string, label=optional)
    numbered = file.message_type.add(name="NumberedRequest")
    numbered.field.add(name="request_id", number=1, type=number, label=optional)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return (
        message_factory.GetMessageClass(pool.FindMessageTypeByName("test.CreateThingRequest")),
        message_factory.GetMessageClass(pool.FindMessageTypeByName("test.NumberedRequest")),
    )


CreateThingRequest, NumberedRequest = _message_classes()
METHOD = "/test.Things/CreateThing"
Seen = list[tuple[str, str]]


def test_the_request_id_is_a_singular_string_field_named_request_id() -> None:
    assert request_id_in(CreateThingRequest(request_id="r-1", title="t")) == "r-1"
    assert request_id_in(CreateThingRequest(title="t")) == ""
    assert request_id_in(NumberedRequest(request_id=5)) == ""
    assert request_id_in(wrappers_pb2.StringValue(value="r-1")) == ""
    assert request_id_in(iter([CreateThingRequest(request_id="r-1")])) == ""  # a stream


def _create_thing(client: lro.Client, seen: Seen) -> Callable[[Any, object], Any]:
    """A service method: creates its operation (``new_operation``, or ``start`` when
    the title says so), then a child (without a request id)."""

    def create(request: Any, context: object) -> operations_pb2.Operation:
        metadata = wrappers_pb2.StringValue(value=request.title)
        if request.title.startswith("start"):
            op = client.start("thing", metadata=metadata, registered_elsewhere=True)
        else:
            op = client.new_operation(metadata=metadata)
        child = client.new_operation()  # the request id is used once per call
        seen.append((op.name, child.name))
        return op.get_operation()

    return create


def _handler(behavior: Callable[..., Any]) -> grpc.GenericRpcHandler[Any, Any]:
    return method_handler("test.Things", "CreateThing", behavior, CreateThingRequest)


def _sync_server(client: lro.Client, seen: Seen) -> Iterator[str]:
    yield from sync_server(_handler(_create_thing(client, seen)))


def _aio_server(client: lro.Client, seen: Seen) -> Iterator[str]:
    yield from aio_server(_handler, _create_thing(client, seen))


@contextlib.contextmanager
def _calling(
    client: lro.Client, make_server: Callable[[lro.Client, Seen], Iterator[str]], seen: Seen
) -> Iterator[Callable[..., operations_pb2.Operation]]:
    servers = make_server(client, seen)
    address = next(servers)
    try:
        with grpc.insecure_channel(address) as channel:
            yield channel.unary_unary(
                METHOD,
                request_serializer=CreateThingRequest.SerializeToString,
                response_deserializer=operations_pb2.Operation.FromString,
            )
    finally:
        next(servers, None)


@pytest.mark.parametrize("make_server", [_sync_server, _aio_server], ids=["sync", "aio"])
def test_a_retried_call_with_a_request_id_gets_the_same_operation(
    client: lro.Client, make_server: Callable[[lro.Client, Seen], Iterator[str]]
) -> None:
    seen: Seen = []
    with _calling(client, make_server, seen) as call:
        first = call(CreateThingRequest(request_id="req-1", title="first"), timeout=10)
        retried = call(CreateThingRequest(request_id="req-1", title="retried"), timeout=10)
        other = call(CreateThingRequest(request_id="req-2", title="other"), timeout=10)
        plain = [call(CreateThingRequest(title="plain"), timeout=10) for _ in range(2)]
    assert retried.name == first.name
    title = wrappers_pb2.StringValue()
    client.unmarshal_metadata(first.name, title)
    assert title.value == "first"  # the retry changed nothing
    assert len({first.name, other.name, plain[0].name, plain[1].name}) == 4
    children = [child for _, child in seen]
    assert len(set(children)) == 5  # each call's second operation is new
    assert not {first.name, other.name} & set(children)


@pytest.mark.parametrize("make_server", [_sync_server, _aio_server], ids=["sync", "aio"])
def test_a_retried_call_that_starts_a_handler_gets_the_same_operation(
    client: lro.Client, make_server: Callable[[lro.Client, Seen], Iterator[str]]
) -> None:
    seen: Seen = []
    with _calling(client, make_server, seen) as call:
        first = call(CreateThingRequest(request_id="req-1", title="start 1"), timeout=10)
        retried = call(CreateThingRequest(request_id="req-1", title="start 2"), timeout=10)
    assert retried.name == first.name
    title = wrappers_pb2.StringValue()
    client.unmarshal_metadata(first.name, title)
    assert title.value == "start 1"
    operations, _ = client.list_operations(page_size=100)
    assert len(operations) == 3  # one started operation, and each call's child
