"""Driver errors leave a store as ``lro.Error``: the code, a plain reason, no details.

Each backend picks the code by the driver's own classification (SQLite's
``sqlite_errorcode``, PostgreSQL's SQLSTATE, google-api-core's exception class). The
message a caller sees says only what kind of failure it was, and a short reference; the
details, which may name the database's path, host or SQL, go to the ``lro.store`` log
under the same reference, so that an operator finds them from what the caller saw.
"""

from __future__ import annotations

import logging
import secrets

from google.rpc import code_pb2

from lro._core.errors import Error

LOGGER = logging.getLogger("lro.store")

_REASONS: dict[int, str] = {
    code_pb2.ABORTED: "the database aborted the transaction (a conflict); try again",
    code_pb2.ALREADY_EXISTS: "the database holds this key already",
    code_pb2.CANCELLED: "the database cancelled the call",
    code_pb2.DATA_LOSS: "the database's data is damaged",
    code_pb2.DEADLINE_EXCEEDED: "the database did not answer in time",
    code_pb2.FAILED_PRECONDITION: "the database is not in a state to do this",
    code_pb2.INTERNAL: "the database failed",
    code_pb2.INVALID_ARGUMENT: "the database cannot keep this value",
    code_pb2.PERMISSION_DENIED: "the database refused access (permission denied)",
    code_pb2.RESOURCE_EXHAUSTED: "the database is out of space or resources",
    code_pb2.UNAUTHENTICATED: "the database refused the credentials",
    code_pb2.UNAVAILABLE: "the database is unavailable; try again",
}


def reason(code: int) -> str:
    """The plain message of a driver error with ``code``."""
    return _REASONS.get(code, _REASONS[code_pb2.INTERNAL])


def store_error(code: int, where: str, action: str, detail: str, plain: str | None = None) -> Error:
    """The ``lro.Error`` for a driver error: ``code`` and a plain message that ends with
    a reference, ``(ref 1a2b3c4d)``, which the log line of the details carries too.

    Args:
        code: the ``google.rpc.Code`` the backend chose for the driver error.
        where: the store, for the log (no password).
        action: what failed, for the log (a query name, "open", ...).
        detail: the driver's message, for the log.
        plain: the message, when the backend knows better than ``reason(code)``.
    """
    if code == code_pb2.NOT_FOUND:  # NotFound is about operations; a missing table is not
        code = code_pb2.FAILED_PRECONDITION
    reference = secrets.token_hex(4)
    LOGGER.warning(
        "[ref %s] %s: %s failed (%s): %s",
        reference,
        where,
        action,
        code_pb2.Code.Name(code),
        detail.strip(),
    )
    return Error.from_code(code, f"{plain or reason(code)} (ref {reference})")
