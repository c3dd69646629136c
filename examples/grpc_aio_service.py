"""A ``grpc.aio`` service whose method returns a long-running operation at once.

``/example.Exports/Start`` (a ``StringValue`` table name) creates an operation, finishes
it in a task of the server's loop, and returns it; the standard
``google.longrunning.Operations`` service on the same server answers GetOperation and
WaitOperation. Run it with ``python -m examples.grpc_aio_service``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import grpc.aio
from google.longrunning import operations_proto_pb2 as operations_pb2
from google.protobuf import struct_pb2, wrappers_pb2

import lro.aio
from lro.serving import AsyncOperationInterceptor, AsyncOperationsServicer

START_METHOD = "/example.Exports/Start"
_background: set[asyncio.Task[None]] = set()


async def _export(op: lro.aio.Operation[None], table: str) -> None:
    try:
        await op.wait(sleep=0.1)  # the work
        result = struct_pb2.Struct()
        result.update({"table": table, "rows": 42})
        await op.done(result)
    except Exception as exc:  # the operation records the error and its code
        await op.error(exc)


def start_handler(client: lro.aio.Client) -> grpc.GenericRpcHandler[Any, Any]:
    """``Start``: create the operation, work on it in the background, return it."""

    async def start(
        request: wrappers_pb2.StringValue, context: grpc.aio.ServicerContext[object, object]
    ) -> operations_pb2.Operation:
        op = await client.new_operation()
        task = asyncio.create_task(_export(op, request.value))
        _background.add(task)
        task.add_done_callback(_background.discard)
        return await op.return_rpc()

    handler = grpc.unary_unary_rpc_method_handler(
        start,
        request_deserializer=wrappers_pb2.StringValue.FromString,
        response_serializer=operations_pb2.Operation.SerializeToString,
    )
    return grpc.method_handlers_generic_handler("example.Exports", {"Start": handler})


async def serve(
    client: lro.aio.Client, address: str = "127.0.0.1:0"
) -> tuple[grpc.aio.Server, int]:
    """A started server with ``Start`` and the Operations service; returns it and its port."""
    server = grpc.aio.server(interceptors=[AsyncOperationInterceptor()])
    server.add_generic_rpc_handlers((start_handler(client),))
    AsyncOperationsServicer(client).add_to_server(server)
    port = server.add_insecure_port(address)
    await server.start()
    return server, port


async def main() -> None:
    async with lro.aio.Client() as client:
        server, port = await serve(client, "127.0.0.1:50052")
        print(f"serving on 127.0.0.1:{port}", flush=True)
        await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main())
