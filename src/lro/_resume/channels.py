"""gRPC channels to the endpoints that durable waits name, opened once and shared."""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import Any

import grpc
from google.longrunning import operations_proto_pb2 as operations_pb2
from google.longrunning.operations_grpc_pb2 import OperationsStub

from lro._core.errors import InvalidArgument
from lro._wait import OperationsService

OPERATION_ID_HEADER = "x-alis-operation-id"
GET_OPERATION_PATH = "/google.longrunning.Operations/GetOperation"


def channel_target(endpoint: str) -> tuple[str, bool]:
    """``(host:port, secure)`` for an endpoint such as ``https://h``, ``http://h:80`` or ``h:80``.

    ``https://`` (port 443 unless given) uses TLS; anything else is plaintext.
    """
    if endpoint.startswith("https://"):
        host = endpoint.removeprefix("https://").rstrip("/")
        return (host if ":" in host else f"{host}:443"), True
    host = endpoint.removeprefix("http://").rstrip("/")
    if not host or "/" in host:
        raise InvalidArgument(f"bad endpoint {endpoint!r}: expected host:port or https://host")
    return host, False


def operations_endpoint(endpoint: str) -> str:
    """The address of a ``google.longrunning.Operations`` service, from ``host:port``,
    ``https://host`` or the Go package's full GetOperation URL
    (``https://host/google.longrunning.Operations/GetOperation``), which loses its path.
    """
    return validate_endpoint(endpoint.rstrip("/").removesuffix(GET_OPERATION_PATH))


def validate_endpoint(endpoint: str) -> str:
    """Return ``endpoint`` if it names a host, else raise InvalidArgument."""
    channel_target(endpoint)
    return endpoint


def operations_stub(channel: grpc.Channel) -> OperationsService:
    """A ``google.longrunning.Operations`` stub on ``channel``."""
    stub: OperationsService = OperationsStub(channel)  # type: ignore[no-untyped-call]
    return stub


class Channels:
    """One gRPC channel an endpoint, closed together."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: dict[str, grpc.Channel] = {}

    def get(self, endpoint: str) -> grpc.Channel:
        """The channel to ``endpoint``, opened on first use."""
        with self._lock:
            channel = self._channels.get(endpoint)
            if channel is None:
                target, secure = channel_target(endpoint)
                channel = (
                    grpc.secure_channel(target, grpc.ssl_channel_credentials())
                    if secure
                    else grpc.insecure_channel(target)
                )
                self._channels[endpoint] = channel
            return channel

    def call_method(self, endpoint: str, method: str, operation: str, timeout: float) -> None:
        """Call gRPC ``method`` at ``endpoint`` with an empty request, naming ``operation``
        in the ``x-alis-operation-id`` metadata; a failed call raises ``grpc.RpcError``.

        The header carries the id of ``operations/{id}`` (as the Go package sends it),
        and the full name of an operation under a parent.
        """
        call = self.get(endpoint).unary_unary(
            method, request_serializer=None, response_deserializer=None
        )
        header = operation.removeprefix("operations/") if operation.count("/") == 1 else operation
        call(b"", timeout=timeout, metadata=((OPERATION_ID_HEADER, header),))

    def get_operations(
        self, endpoint: str, names: Collection[str], timeout: float
    ) -> dict[str, operations_pb2.Operation]:
        """The operations ``names`` as the Operations service at ``endpoint`` has them."""
        stub: Any = OperationsStub(self.get(endpoint))  # type: ignore[no-untyped-call]
        return {
            name: stub.GetOperation(operations_pb2.GetOperationRequest(name=name), timeout=timeout)
            for name in names
        }

    def close(self) -> None:
        """Close every channel."""
        with self._lock:
            channels, self._channels = self._channels, {}
        for channel in channels.values():
            channel.close()
