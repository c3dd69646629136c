"""Server interceptors that tell ``Client.new_operation`` which call it serves.

Under them, a servicer method calls ``client.new_operation()`` without passing its
context: the method becomes the operation's resume method, and a call that carries
``x-alis-operation-id`` (a resumed operation) continues that operation. A request
message with a non-empty string field ``request_id`` gives the first operation that the
call creates (``new_operation`` or ``start``) that AIP-155 request id.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from lro import _telemetry as telemetry
from lro._calls import ServedCall, header_says_timed_out, request_id_in, serving
from lro._core.constants import OPERATION_ID_HEADER
from lro._core.errors import InvalidOperationName
from lro._core.names import name_from_header

if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]
    SyncInterceptor = grpc.ServerInterceptor[Any, Any]
    AsyncInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:  # the runtime classes are not generic
    Handler = grpc.RpcMethodHandler
    SyncInterceptor = grpc.ServerInterceptor
    AsyncInterceptor = grpc.aio.ServerInterceptor


def _served_call(details: grpc.HandlerCallDetails) -> ServedCall | InvalidOperationName:
    """The call described by ``details``, or the error of a malformed header."""
    for key, value in details.invocation_metadata or ():
        if key.lower() == OPERATION_ID_HEADER and value:
            text = value if isinstance(value, str) else value.decode(errors="replace")
            try:
                name = name_from_header(text)
            except InvalidOperationName as exc:
                return exc
            timed_out = header_says_timed_out(details.invocation_metadata)
            return ServedCall(details.method, name, timed_out)
    return ServedCall(details.method)


@contextlib.contextmanager
def _run(served: ServedCall) -> Iterator[None]:
    """End the span of a resumed operation's run, which ``new_operation`` started
    (``lro._telemetry.resumed_in_call``), with the call's outcome."""
    try:
        yield
    except BaseException as exc:
        telemetry.end_run(served.run, exc)
        raise
    telemetry.end_run(served.run, None)


def _rebuilt(handler: Handler, wrap: Callable[[Callable[..., Any], bool], Any]) -> Handler:
    """``handler`` with its behavior wrapped; ``wrap(behavior, streams_responses)``."""
    kinds = (
        (handler.unary_unary, grpc.unary_unary_rpc_method_handler, False),
        (handler.unary_stream, grpc.unary_stream_rpc_method_handler, True),
        (handler.stream_unary, grpc.stream_unary_rpc_method_handler, False),
        (handler.stream_stream, grpc.stream_stream_rpc_method_handler, True),
    )
    for behavior, make, streams in kinds:
        if behavior is not None:
            return make(
                wrap(behavior, streams),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
    return handler


def _for_request(call: ServedCall, request: object) -> ServedCall:
    """A fresh copy of ``call`` for one invocation, with its request's request id."""
    return dataclasses.replace(call, request_id=request_id_in(request))


class OperationInterceptor(SyncInterceptor):
    """For ``grpc.server(..., interceptors=[OperationInterceptor()])``."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        call = _served_call(handler_call_details)
        return _rebuilt(handler, lambda behavior, streams: _sync_wrapper(behavior, streams, call))


def _sync_wrapper(
    behavior: Callable[..., Any], streams: bool, call: ServedCall | InvalidOperationName
) -> Callable[..., Any]:
    def unary(request: Any, context: grpc.ServicerContext) -> Any:
        if isinstance(call, InvalidOperationName):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, call.message)
        # A fresh copy of the call for each invocation.
        with serving(_for_request(call, request)) as served, _run(served):
            return behavior(request, context)

    def streaming(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        if isinstance(call, InvalidOperationName):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, call.message)
        # A fresh copy of the call for each invocation.
        with serving(_for_request(call, request)) as served, _run(served):
            yield from behavior(request, context)

    return streaming if streams else unary


class AsyncOperationInterceptor(AsyncInterceptor):
    """For ``grpc.aio.server(interceptors=[AsyncOperationInterceptor()])``; the
    servicer's methods are coroutines (or async generators for streamed responses)."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        call = _served_call(handler_call_details)
        return _rebuilt(handler, lambda behavior, streams: _async_wrapper(behavior, streams, call))


def _async_wrapper(
    behavior: Callable[..., Any], streams: bool, call: ServedCall | InvalidOperationName
) -> Callable[..., Any]:
    async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        if isinstance(call, InvalidOperationName):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, call.message)
        # A fresh copy of the call for each invocation.
        with serving(_for_request(call, request)) as served, _run(served):
            return await behavior(request, context)

    async def streaming(
        request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        if isinstance(call, InvalidOperationName):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, call.message)
        # A fresh copy of the call for each invocation.
        with serving(_for_request(call, request)) as served, _run(served):
            async for response in behavior(request, context):
                yield response

    return streaming if streams else unary
