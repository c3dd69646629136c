"""``google.rpc.Status`` from exceptions, keeping any gRPC code they carry."""

from __future__ import annotations

import google.rpc.code_pb2 as code_pb2
import google.rpc.status_pb2 as status_pb2

from lro._core.errors import Error, InvalidArgument


def _grpc_code_number(code: object) -> int | None:
    """The number of a ``grpc.StatusCode`` (its value is ``(number, name)``)."""
    value = getattr(code, "value", None)
    if isinstance(value, tuple) and value and isinstance(value[0], int):
        return value[0]
    return None


def _rpc_error_status(exc: BaseException) -> status_pb2.Status | None:
    """The status of a ``grpc.RpcError`` or a ``google.api_core`` exception."""
    api_core_code = getattr(exc, "grpc_status_code", None)
    if api_core_code is not None and (number := _grpc_code_number(api_core_code)):
        message = getattr(exc, "message", None) or str(exc)
        return status_pb2.Status(code=number, message=str(message))
    code_method = getattr(exc, "code", None)
    details_method = getattr(exc, "details", None)
    if callable(code_method) and callable(details_method):
        number = _grpc_code_number(code_method())
        if number:
            return status_pb2.Status(code=number, message=str(details_method() or ""))
    return None


def status_of(error: BaseException | status_pb2.Status) -> status_pb2.Status:
    """The ``google.rpc.Status`` for ``error``; UNKNOWN only when it carries no code."""
    if isinstance(error, status_pb2.Status):
        return error
    if isinstance(error, Error):
        return error.to_status()
    if not isinstance(error, BaseException):
        raise InvalidArgument(
            f"expected an exception or google.rpc.Status, got {type(error).__name__}"
        )
    status = _rpc_error_status(error)
    if status is not None:
        return status
    message = str(error) or type(error).__name__
    return status_pb2.Status(code=code_pb2.UNKNOWN, message=message)
