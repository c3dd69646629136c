"""Handing durable waits to Google Cloud: which waits a cloud resumer takes, and how.

A cloud resumer takes the waits it can serve; the others stay with the embedded worker.
Cloud Workflows resumes a gRPC method (as the Go package does); Cloud Tasks resumes a
registered handler after a sleep (as the Go package's v2 does).
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib
from collections.abc import Sequence
from typing import Any, Protocol

from lro._core.errors import FailedPrecondition
from lro._store.base import OperationRecord, TargetKind


@dataclasses.dataclass(frozen=True, slots=True)
class HandOver:
    """A durable wait, as a cloud resumer gets it: the operation and whom to resume.

    ``binding`` is the token of the wake-up that a resume endpoint's task is bound to
    (see ``lro._resume.binding``); empty for resumers that call the target themselves.
    """

    record: OperationRecord
    target_kind: TargetKind
    target: str
    sleep: float
    children: Sequence[str]
    timeout: float
    poll_frequency: float
    child_endpoint: str
    binding: str = ""


class CloudResumer(Protocol):
    """Resumes operations through a managed service instead of the embedded worker."""

    def accepts(self, target_kind: TargetKind, children: Sequence[str]) -> bool:
        """Whether this resumer can serve a wait for this target and children."""
        ...

    def resume_later(self, hand_over: HandOver) -> str:
        """Hand the wait over; returns the name of what was created (execution, task)."""
        ...


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
