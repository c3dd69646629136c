"""Long-running operations (AIP-151) for Python services."""

from typing import TYPE_CHECKING, Any

from lro._client import OPERATION_ID_HEADER, Client
from lro._core.errors import (
    Aborted,
    AlreadyExists,
    Cancelled,
    DeadlineExceeded,
    Error,
    FailedPrecondition,
    InvalidArgument,
    InvalidOperationName,
    InvalidPageToken,
    InvalidState,
    NotFound,
    OperationAlreadyDone,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
    WaitDeadlineExceeded,
)
from lro._core.filters import InvalidFilter
from lro._functions import wait_operation
from lro._operation import Operation
from lro._resume.worker import Worker, WorkerSettings
from lro._store.base import OperationRecord, Store, WaitPlan, Wakeup, WakeupStore
from lro._store.spanner_config import SpannerConfig
from lro._store.sqlite import SqliteStore
from lro._unmarshal import unmarshal_operation
from lro._wait import OperationsService

if TYPE_CHECKING:
    from lro._store.postgres import PostgresStore

OPERATION_COLUMN_NAME = "Operation"
STATE_COLUMN_NAME = "State"
RESUME_POINT_COLUMN_NAME = "ResumePoint"

__all__ = [
    "OPERATION_COLUMN_NAME",
    "OPERATION_ID_HEADER",
    "RESUME_POINT_COLUMN_NAME",
    "STATE_COLUMN_NAME",
    "Aborted",
    "AlreadyExists",
    "Cancelled",
    "Client",
    "DeadlineExceeded",
    "Error",
    "FailedPrecondition",
    "InvalidArgument",
    "InvalidFilter",
    "InvalidOperationName",
    "InvalidPageToken",
    "InvalidState",
    "NotFound",
    "Operation",
    "OperationAlreadyDone",
    "OperationRecord",
    "OperationsService",
    "PermissionDenied",
    "PostgresStore",
    "SpannerConfig",
    "SqliteStore",
    "Store",
    "Unauthenticated",
    "Unavailable",
    "WaitDeadlineExceeded",
    "WaitPlan",
    "Wakeup",
    "WakeupStore",
    "Worker",
    "WorkerSettings",
    "unmarshal_operation",
    "wait_operation",
]


def __getattr__(name: str) -> Any:
    # PostgresStore needs the optional driver (lro[postgres]): imported on first use.
    if name == "PostgresStore":
        try:
            from lro._store.postgres import PostgresStore
        except ImportError as exc:
            raise ImportError(
                f"lro.PostgresStore needs: pip install 'lro[postgres]' ({exc})"
            ) from exc
        return PostgresStore
    raise AttributeError(f"module 'lro' has no attribute {name!r}")
