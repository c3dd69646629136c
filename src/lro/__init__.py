"""Long-running operations (AIP-151) for Python services."""

import importlib
from typing import TYPE_CHECKING, Any

from lro._client import OPERATION_ID_HEADER, Client
from lro._core.errors import (
    Aborted,
    AlreadyExists,
    Cancelled,
    DataLoss,
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
from lro._resume.auth import OidcAuthenticator, ResumeAuthenticator, SharedSecretAuthenticator
from lro._resume.worker import Worker, WorkerSettings
from lro._resume.workflows import WorkflowsResumer
from lro._runtime import CloudResumer
from lro._store.base import OperationRecord, Store, WaitPlan, Wakeup, WakeupStore
from lro._store.spanner_config import SpannerConfig
from lro._store.sql_store import SqliteStore
from lro._unmarshal import unmarshal_operation
from lro._wait import OperationsService

if TYPE_CHECKING:
    from lro._resume.tasks import TasksResumer
    from lro._store.sql_store import PostgresStore

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
    "CloudResumer",
    "DataLoss",
    "DeadlineExceeded",
    "Error",
    "FailedPrecondition",
    "InvalidArgument",
    "InvalidFilter",
    "InvalidOperationName",
    "InvalidPageToken",
    "InvalidState",
    "NotFound",
    "OidcAuthenticator",
    "Operation",
    "OperationAlreadyDone",
    "OperationRecord",
    "OperationsService",
    "PermissionDenied",
    "PostgresStore",
    "ResumeAuthenticator",
    "SharedSecretAuthenticator",
    "SpannerConfig",
    "SqliteStore",
    "Store",
    "TasksResumer",
    "Unauthenticated",
    "Unavailable",
    "WaitDeadlineExceeded",
    "WaitPlan",
    "Wakeup",
    "WakeupStore",
    "Worker",
    "WorkerSettings",
    "WorkflowsResumer",
    "unmarshal_operation",
    "wait_operation",
]


# Names that need an optional extra: (a module that imports it, the extra, the name's module).
_OPTIONAL = {
    "PostgresStore": ("lro._store.connectors.postgresql", "postgres", "lro._store.sql_store"),
    "TasksResumer": ("lro._resume.tasks", "google-cloud", "lro._resume.tasks"),
}


def __getattr__(name: str) -> Any:
    # Names that need an optional extra are imported on first use.
    if name in _OPTIONAL:
        needs, extra, home = _OPTIONAL[name]
        try:
            importlib.import_module(needs)
        except ImportError as exc:
            raise ImportError(f"lro.{name} needs: pip install 'lro[{extra}]' ({exc})") from exc
        return getattr(importlib.import_module(home), name)
    raise AttributeError(f"module 'lro' has no attribute {name!r}")
