"""The Operations RPCs registered with their requests parsed here, not by grpcio.

grpcio answers a request body that does not decode with INTERNAL, before any servicer
code runs. Registered with no deserializer, each RPC gets the raw bytes, and a body
that is not its request message is INVALID_ARGUMENT, as any other bad input is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import grpc.aio
from google.protobuf import empty_pb2
from google.protobuf.message import DecodeError, Message

SERVICE = "google.longrunning.Operations"
# Each RPC: (request type, response type).
RPCS: dict[str, tuple[type[Message], type[Message]]] = {
    "ListOperations": (
        operations_pb2.ListOperationsRequest,
        operations_pb2.ListOperationsResponse,
    ),
    "GetOperation": (operations_pb2.GetOperationRequest, operations_pb2.Operation),
    "DeleteOperation": (operations_pb2.DeleteOperationRequest, empty_pb2.Empty),
    "CancelOperation": (operations_pb2.CancelOperationRequest, empty_pb2.Empty),
    "WaitOperation": (operations_pb2.WaitOperationRequest, operations_pb2.Operation),
}
Behavior = Callable[[Any, Any], Any]


def _parsed(request_type: type[Message], body: bytes) -> tuple[Message | None, str]:
    """The request in ``body``, or None and why not."""
    try:
        return request_type.FromString(body), ""
    except (DecodeError, RecursionError):
        return None, f"the request body is not a valid {request_type.DESCRIPTOR.full_name}"


def _parsing(behavior: Behavior, request_type: type[Message]) -> Behavior:
    def parse_then_call(body: bytes, context: grpc.ServicerContext) -> Any:
        request, refusal = _parsed(request_type, body)
        if request is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, refusal)
        return behavior(request, context)

    return parse_then_call


def _parsing_async(behavior: Behavior, request_type: type[Message]) -> Behavior:
    async def parse_then_call(
        body: bytes, context: grpc.aio.ServicerContext[bytes, Message]
    ) -> Any:
        request, refusal = _parsed(request_type, body)
        if request is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, refusal)
        answer: Awaitable[Any] = behavior(request, context)
        return await answer

    return parse_then_call


def operations_handler(
    servicer: object, *, asynchronous: bool
) -> grpc.GenericRpcHandler[bytes, Message]:
    """The generic handler of ``servicer``'s five RPCs, each parsing its own request."""
    wrap = _parsing_async if asynchronous else _parsing
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(
            wrap(getattr(servicer, name), request_type),
            request_deserializer=None,
            response_serializer=response_type.SerializeToString,
        )
        for name, (request_type, response_type) in RPCS.items()
    }
    return grpc.method_handlers_generic_handler(SERVICE, handlers)
