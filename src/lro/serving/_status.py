"""Turning errors into gRPC status codes and HTTP statuses."""

from __future__ import annotations

import logging
import secrets

import google.rpc.code_pb2 as code_pb2
import grpc

from lro._core.errors import Error

LOGGER = logging.getLogger("lro.serving")
_GRPC_CODES = {status.value[0]: status for status in grpc.StatusCode}
# google.rpc.Code -> HTTP status, as google/rpc/code.proto documents them.
HTTP_STATUS: dict[int, int] = {
    code_pb2.OK: 200,
    code_pb2.CANCELLED: 499,
    code_pb2.UNKNOWN: 500,
    code_pb2.INVALID_ARGUMENT: 400,
    code_pb2.DEADLINE_EXCEEDED: 504,
    code_pb2.NOT_FOUND: 404,
    code_pb2.ALREADY_EXISTS: 409,
    code_pb2.PERMISSION_DENIED: 403,
    code_pb2.RESOURCE_EXHAUSTED: 429,
    code_pb2.FAILED_PRECONDITION: 400,
    code_pb2.ABORTED: 409,
    code_pb2.OUT_OF_RANGE: 400,
    code_pb2.UNIMPLEMENTED: 501,
    code_pb2.INTERNAL: 500,
    code_pb2.UNAVAILABLE: 503,
    code_pb2.DATA_LOSS: 500,
    code_pb2.UNAUTHENTICATED: 401,
}


def grpc_code(code: int) -> grpc.StatusCode:
    """The ``grpc.StatusCode`` of a ``google.rpc.Code`` number."""
    return _GRPC_CODES.get(code, grpc.StatusCode.UNKNOWN)


def error_status(exc: BaseException) -> tuple[int, str]:
    """``(google.rpc.Code, message)`` to answer for ``exc``.

    An ``lro.Error`` keeps its code and message; anything else is a bug, logged with
    its traceback under a reference, and answered INTERNAL with only that reference.
    """
    if isinstance(exc, Error):
        return exc.code, exc.message
    reference = secrets.token_hex(4)
    LOGGER.error("[ref %s] unexpected error while serving", reference, exc_info=exc)
    return code_pb2.INTERNAL, f"internal error (ref {reference})"
