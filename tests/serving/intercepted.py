"""A one-method gRPC service behind lro's interceptors, sync or grpc.aio, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import grpc.aio

from lro.serving import AsyncOperationInterceptor, OperationInterceptor


def method_handler(
    service: str, method: str, behavior: Callable[..., Any], request_type: Any
) -> grpc.GenericRpcHandler[Any, Any]:
    """``service/method`` answering an Operation from ``behavior(request, context)``."""
    return grpc.method_handlers_generic_handler(
        service,
        {
            method: grpc.unary_unary_rpc_method_handler(
                behavior,
                request_deserializer=request_type.FromString,
                response_serializer=operations_pb2.Operation.SerializeToString,
            )
        },
    )


def sync_server(handler: grpc.GenericRpcHandler[Any, Any]) -> Iterator[str]:
    """A ``grpc.server`` under ``OperationInterceptor``; yields its address."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4), interceptors=[OperationInterceptor()]
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None).wait()


def aio_server(
    make_handler: Callable[[Callable[..., Any]], grpc.GenericRpcHandler[Any, Any]],
    behavior: Callable[..., Any],
) -> Iterator[str]:
    """A ``grpc.aio`` server under ``AsyncOperationInterceptor``, on a loop of its own
    thread, whose method awaits nothing and answers ``behavior``; yields its address."""

    async def answer(request: Any, context: object) -> object:
        return behavior(request, context)

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def serve() -> tuple[grpc.aio.Server, int]:
        server = grpc.aio.server(interceptors=[AsyncOperationInterceptor()])
        server.add_generic_rpc_handlers((make_handler(answer),))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, port

    server, port = asyncio.run_coroutine_threadsafe(serve(), loop).result(10)
    yield f"127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(server.stop(None), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()
