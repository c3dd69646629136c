"""Handing durable waits to Google Cloud: which waits a cloud resumer takes, and how.

A cloud resumer takes the waits it can serve; the others stay with the embedded worker.
Cloud Workflows resumes a gRPC method (as the Go package does); Cloud Tasks resumes a
registered handler after a sleep (as the Go package's v2 does).
"""

from __future__ import annotations

import datetime
import importlib
from typing import Any

from lro._core.errors import FailedPrecondition
from lro._runtime import CloudResumer, HandOver

__all__ = ["CloudResumer", "HandOver", "due_time", "import_cloud"]


def import_cloud(module: str) -> Any:
    """``module`` of the Google Cloud client libraries, or a FailedPrecondition that names
    the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise FailedPrecondition(
            f"resuming through Google Cloud needs: pip install 'lro[google-cloud]' ({exc})"
        ) from exc


def due_time(sleep: float) -> datetime.datetime:
    """Now plus ``sleep`` seconds, in UTC."""
    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=sleep)
