"""Handing durable waits to Google Cloud: which waits a cloud resumer takes, and how.

A cloud resumer takes the waits it can serve; the others stay with the embedded worker.
Cloud Workflows resumes a gRPC method (as the Go package does); Cloud Tasks resumes a
registered handler after a sleep (as the Go package's v2 does).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import importlib
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from google.rpc import status_pb2

from lro._core import transitions
from lro._core.errors import Error, FailedPrecondition, OperationAlreadyDone
from lro._core.statuses import code_name, status_of
from lro._store.base import OperationRecord, Store, TargetKind, update_record

logger = logging.getLogger("lro.resume")


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


def end_unscheduled(store: Store, hand_over: HandOver, exc: Exception) -> Error:
    """End the operation of a wait that ``exc`` kept a cloud resumer from taking, with
    its code, since nothing would ever resume it; returns the error to raise.

    The details (which may name hosts, queues, projects) go to the log; the operation
    and the error keep the code and a plain reason.
    """
    name = hand_over.record.name
    code = status_of(exc).code
    reason = f"the run of {hand_over.target_kind} {hand_over.target!r} could not be scheduled"
    logger.error("%s: %s; the operation ends with %s", name, reason, code_name(code), exc_info=exc)
    status = status_pb2.Status(code=code, message=f"{reason} ({code_name(code)})")
    with contextlib.suppress(OperationAlreadyDone):
        update_record(
            store,
            hand_over.record,
            lambda r: r.replace(operation=transitions.fail(r.operation, status)),
        )
    return Error.from_code(code, f"operation {name!r} ended: {status.message}")
