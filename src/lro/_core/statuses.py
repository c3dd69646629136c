"""``google.rpc.Status`` from exceptions, keeping any gRPC code they carry."""

from __future__ import annotations

import google.rpc.code_pb2 as code_pb2
import google.rpc.status_pb2 as status_pb2

from lro._core.errors import Error, InvalidArgument

MAX_FAILURE_TEXT = 2000


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
        return status_pb2.Status(code=number, message=valid_text(str(message)))
    code_method = getattr(exc, "code", None)
    details_method = getattr(exc, "details", None)
    if callable(code_method) and callable(details_method):
        number = _grpc_code_number(code_method())
        if number:
            return status_pb2.Status(code=number, message=valid_text(str(details_method() or "")))
    return None


def status_of(error: BaseException | status_pb2.Status) -> status_pb2.Status:
    """The ``google.rpc.Status`` for ``error``; UNKNOWN only when it carries no code."""
    if isinstance(error, status_pb2.Status):
        return error
    if isinstance(error, Error):
        return status_pb2.Status(code=error.code, message=valid_text(error.message))
    if not isinstance(error, BaseException):
        raise InvalidArgument(
            f"expected an exception or google.rpc.Status, got {type(error).__name__}"
        )
    status = _rpc_error_status(error)
    if status is not None:
        return status
    message = valid_text(str(error) or type(error).__name__)
    return status_pb2.Status(code=code_pb2.UNKNOWN, message=message)


def valid_text(text: str) -> str:
    """``text`` as a protobuf string may hold it: lone surrogates (from undecodable
    bytes, such as a file name in an OSError) escaped as ``\\udcff``."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def code_name(code: int) -> str:
    """The name of a ``google.rpc.Code`` (``UNAVAILABLE``), or the number of an unknown one."""
    return code_pb2.Code.Name(code) if code in code_pb2.Code.values() else str(code)


def failure_text(status: status_pb2.Status) -> str:
    """``CODE: message``, as an operation's ``last_error`` keeps it.

    Any message can be recorded: NUL (which PostgreSQL text refuses) is escaped as
    ``\\x00``, and the text is cut at ``MAX_FAILURE_TEXT`` characters.
    """
    text = valid_text(f"{code_name(status.code)}: {status.message}").replace("\x00", "\\x00")
    if len(text) > MAX_FAILURE_TEXT:
        text = text[: MAX_FAILURE_TEXT - 1] + "\u2026"
    return text
