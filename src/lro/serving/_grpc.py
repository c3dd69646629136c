"""The ``google.longrunning.Operations`` service over ``grpc.server`` and ``grpc.aio``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NoReturn

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import grpc.aio
from google.protobuf import empty_pb2

from lro._client import Client
from lro._core.names import validate_name
from lro._wait import latest_in_store
from lro.aio import Client as AsyncClient
from lro.aio._client import face_of
from lro.serving._auth import AuthArgument, ServiceAuth
from lro.serving._grpc_handlers import operations_handler
from lro.serving._guards import protect, protect_async
from lro.serving._requests import (
    DEFAULT_MAX_WAIT,
    RECHECK_EVERY,
    Waits,
    list_async,
    list_response,
    wait_seconds,
)
from lro.serving._status import error_status, grpc_code


def _abort(context: grpc.ServicerContext, exc: BaseException) -> NoReturn:
    code, message = error_status(exc)
    context.abort(grpc_code(code), message)
    raise AssertionError("context.abort returns only by raising")  # pragma: no cover


@contextlib.contextmanager
def _answering(context: grpc.ServicerContext) -> Iterator[None]:
    """Answer any exception with its status code (INTERNAL only for bugs)."""
    try:
        yield
    except Exception as exc:
        _abort(context, exc)


class OperationsServicer(operations_grpc.OperationsServicer):
    """All five Operations RPCs over ``client``'s store, for ``grpc.server``.

    Args:
        client: the store to serve.
        max_wait: longest WaitOperation, in seconds, when neither the request's
            ``timeout`` nor the RPC deadline is shorter.
        auth: who may call (an authenticator such as ``lro.serving.TokenFile``, or a
            list of them); None leaves every RPC open.
        max_waits: most WaitOperation calls that wait at once (None: no bound); past
            it a WaitOperation answers the latest state at once. Each wait holds one
            of the server's threads: keep this below their number, so that the other
            RPCs always find one.
    """

    def __init__(
        self,
        client: Client,
        *,
        max_wait: float = DEFAULT_MAX_WAIT,
        auth: AuthArgument = None,
        max_waits: int | None = None,
    ) -> None:
        self.client = client
        self.max_wait = max_wait
        self.waits = Waits(max_waits)
        protect(self, ServiceAuth.of(auth))

    def add_to_server(self, server: grpc.Server) -> None:
        """Register this servicer on ``server`` (a body that does not decode is
        INVALID_ARGUMENT)."""
        server.add_generic_rpc_handlers((operations_handler(self, asynchronous=False),))

    def GetOperation(  # noqa: N802 (the RPC's name)
        self, request: operations_pb2.GetOperationRequest, context: grpc.ServicerContext
    ) -> operations_pb2.Operation:
        """The operation as stored."""
        with _answering(context):
            return self.client.get_operation(request.name)

    def ListOperations(  # noqa: N802
        self, request: operations_pb2.ListOperationsRequest, context: grpc.ServicerContext
    ) -> operations_pb2.ListOperationsResponse:
        """One page of a collection, filtered (AIP-158, AIP-160)."""
        with _answering(context):
            return list_response(self.client, request)

    def DeleteOperation(  # noqa: N802
        self, request: operations_pb2.DeleteOperationRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        """Delete the operation; it is not cancelled."""
        with _answering(context):
            self.client.delete_operation(request.name)
            return empty_pb2.Empty()

    def CancelOperation(  # noqa: N802
        self, request: operations_pb2.CancelOperationRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        """Cancel: a running operation ends with CANCELLED; a done one is left as it is."""
        with _answering(context):
            self.client.cancel_operation(request.name)
            return empty_pb2.Empty()

    def WaitOperation(  # noqa: N802
        self, request: operations_pb2.WaitOperationRequest, context: grpc.ServicerContext
    ) -> operations_pb2.Operation:
        """The operation once done, or its latest state when the time is up (at once
        past ``max_waits``)."""
        with _answering(context), self.waits.admitted() as admitted:
            name = validate_name(request.name)
            timeout = wait_seconds(request, context.time_remaining(), self.max_wait)
            timeout = timeout if admitted else 0.0
            store = self.client.store
            # A call that ends early (cancelled by the caller) wakes the wait.
            context.add_callback(lambda: store.changes.publish(name))
            return latest_in_store(
                store,
                name,
                timeout=timeout,
                recheck_every=RECHECK_EVERY,
                keep_waiting=context.is_active,
            )


async def _abort_async(
    context: grpc.aio.ServicerContext[object, object], exc: Exception
) -> NoReturn:
    code, message = error_status(exc)
    await context.abort(grpc_code(code), message)
    raise AssertionError("context.abort returns only by raising")  # pragma: no cover


class AsyncOperationsServicer(operations_grpc.OperationsServicer):
    """All five Operations RPCs over ``client``'s store, for ``grpc.aio`` servers.

    ``client`` is an ``lro.aio.Client``, or an ``lro.Client`` served through its asyncio
    face: store calls run in a bounded thread pool; WaitOperation waits on change
    notifications without holding a thread. ``max_wait``, ``auth`` and ``max_waits``
    are as for ``OperationsServicer``.
    """

    def __init__(
        self,
        client: Client | AsyncClient,
        *,
        max_wait: float = DEFAULT_MAX_WAIT,
        auth: AuthArgument = None,
        max_waits: int | None = None,
    ) -> None:
        self.client = face_of(client)
        self.max_wait = max_wait
        self.waits = Waits(max_waits)
        protect_async(self, ServiceAuth.of(auth))

    def add_to_server(self, server: grpc.aio.Server) -> None:
        """Register this servicer on ``server`` (a body that does not decode is
        INVALID_ARGUMENT)."""
        server.add_generic_rpc_handlers((operations_handler(self, asynchronous=True),))

    async def GetOperation(  # noqa: N802
        self,
        request: operations_pb2.GetOperationRequest,
        context: grpc.aio.ServicerContext[object, object],
    ) -> operations_pb2.Operation:
        """The operation as stored."""
        try:
            return await self.client.get_operation(request.name)
        except Exception as exc:
            await _abort_async(context, exc)

    async def ListOperations(  # noqa: N802
        self,
        request: operations_pb2.ListOperationsRequest,
        context: grpc.aio.ServicerContext[object, object],
    ) -> operations_pb2.ListOperationsResponse:
        """One page of a collection, filtered (AIP-158, AIP-160)."""
        try:
            return await list_async(self.client, request)
        except Exception as exc:
            await _abort_async(context, exc)

    async def DeleteOperation(  # noqa: N802
        self,
        request: operations_pb2.DeleteOperationRequest,
        context: grpc.aio.ServicerContext[object, object],
    ) -> empty_pb2.Empty:
        """Delete the operation; it is not cancelled."""
        try:
            await self.client.delete_operation(request.name)
        except Exception as exc:
            await _abort_async(context, exc)
        return empty_pb2.Empty()

    async def CancelOperation(  # noqa: N802
        self,
        request: operations_pb2.CancelOperationRequest,
        context: grpc.aio.ServicerContext[object, object],
    ) -> empty_pb2.Empty:
        """Cancel: a running operation ends with CANCELLED; a done one is left as it is."""
        try:
            await self.client.cancel_operation(request.name)
        except Exception as exc:
            await _abort_async(context, exc)
        return empty_pb2.Empty()

    async def WaitOperation(  # noqa: N802
        self,
        request: operations_pb2.WaitOperationRequest,
        context: grpc.aio.ServicerContext[object, object],
    ) -> operations_pb2.Operation:
        """The operation once done, or its latest state when the time is up (at once
        past ``max_waits``)."""
        try:
            with self.waits.admitted() as admitted:
                name = validate_name(request.name)
                timeout = wait_seconds(request, context.time_remaining(), self.max_wait)
                return await self.waits.latest(self.client, name, timeout if admitted else 0.0)
        except Exception as exc:
            await _abort_async(context, exc)
