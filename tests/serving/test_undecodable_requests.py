"""A request body that is not the RPC's request message is INVALID_ARGUMENT (grpcio by
itself answers INTERNAL), on the sync and asyncio servicers, and good requests still
work, from google-api-core's client too."""

from __future__ import annotations

import grpc
import pytest
from google.api_core import operations_v1

import lro
from lro.serving._grpc_handlers import RPCS, SERVICE

BAD_BODIES = [
    b"\x0a\xff",  # field 1 says 255 bytes follow; none do
    b"\x0a\x02\xff\xfe",  # a name that is not UTF-8
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",  # a tag that never ends
    b"\x0b",  # a group that never closes
]


def _call(channel: grpc.Channel, rpc: str, body: bytes) -> object:
    method = channel.unary_unary(  # bytes in, bytes out
        f"/{SERVICE}/{rpc}", request_serializer=None, response_deserializer=None
    )
    return method(body, timeout=10)


@pytest.mark.parametrize("rpc", sorted(RPCS))
def test_undecodable_bodies_are_invalid_argument(channel: grpc.Channel, rpc: str) -> None:
    for body in BAD_BODIES:
        with pytest.raises(grpc.RpcError) as raised:
            _call(channel, rpc, body)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, body
        assert RPCS[rpc][0].DESCRIPTOR.full_name in (raised.value.details() or "")


def test_good_bodies_still_work(
    client: lro.Client, channel: grpc.Channel, operations_client: operations_v1.OperationsClient
) -> None:
    operation = client.new_operation()
    request_type, response_type = RPCS["GetOperation"]
    body = request_type(name=operation.name).SerializeToString()
    answer = _call(channel, "GetOperation", body)
    assert isinstance(answer, bytes)
    assert response_type.FromString(answer).name == operation.name  # type: ignore[attr-defined]
    assert operations_client.get_operation(operation.name).name == operation.name
    operations_client.cancel_operation(operation.name)
    assert client.get_operation(operation.name).done
