"""Resuming one claimed wake-up: check its wait, call its target, record the outcome."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from google.rpc import code_pb2

from lro import _telemetry as telemetry
from lro._core import backoff, transitions
from lro._core.errors import FailedPrecondition, NotFound, OperationAlreadyDone
from lro._core.statuses import failure_text, status_of
from lro._resume.channels import Channels
from lro._resume.counts import Outcome
from lro._store.base import OperationRecord, Wakeup, WakeupStore, now_us, update_record

if TYPE_CHECKING:
    from lro._client import Client
    from lro._operation import Operation

logger = logging.getLogger("lro.worker")
FIRST_POLL_DELAY = 0.05
TRANSIENT_CODES = {code_pb2.UNAVAILABLE, code_pb2.DEADLINE_EXCEEDED, code_pb2.RESOURCE_EXHAUSTED}


@dataclasses.dataclass(frozen=True, slots=True)
class RunSettings:
    """How a worker runs a resumption."""

    max_attempts: int = 5
    retry_delay: float = 1.0
    max_retry_delay: float = 60.0
    call_timeout: float = 60.0


class Resumption:
    """One claimed wake-up of ``client``'s store, run to its end."""

    def __init__(
        self, client: Client, store: WakeupStore, channels: Channels, settings: RunSettings
    ) -> None:
        self.client = client
        self.store = store
        self.channels = channels
        self.settings = settings

    def run(self, wakeup: Wakeup) -> Outcome:
        """Resume the operation of ``wakeup`` if its wait is over, else postpone it."""
        try:
            record = self.store.get(wakeup.name)
        except NotFound:
            self.store.finish_wakeup(wakeup)
            return "skipped"
        _log_progress(logging.DEBUG, "claimed", wakeup, record, f"claim {wakeup.claims}")
        if record.done:
            logger.debug("%s is done already; its wake-up goes", wakeup.name)
            self.store.finish_wakeup(wakeup)
            return "skipped"
        try:
            timed_out = self._wait_outcome(wakeup, record.resume_point)
        except Exception as exc:  # a child endpoint failed for good
            self._fail(wakeup, exc)
            return "failed"
        if timed_out is None:
            return "postponed"
        if timed_out:
            record = update_record(self.store, record, lambda r: r.replace(wait_timed_out=True))
        outcome = "its wait timed out" if timed_out else "due"
        _log_progress(logging.INFO, "resuming", wakeup, record, outcome)
        return self._resume(wakeup, record)

    def _resume(self, wakeup: Wakeup, record: OperationRecord) -> Outcome:
        """Call the target, in the span of its run; count a failure."""
        try:
            with telemetry.handler_run(
                self._run_name(wakeup),
                record,
                wakeup.due_time_us,
                span=wakeup.target_kind != "grpc",
            ) as run:
                op = self._call_target(wakeup, record)
                run.finished(op._record.operation if op is not None else None)
        except Exception as exc:
            self._fail(wakeup, exc)
            return "failed"
        if op is not None and op._record.done:  # finishing removed the wake-up
            if wakeup.target_kind == "callback":
                self.client._callbacks.pop(wakeup.name, None)
            return "resumed"
        if self.store.finish_wakeup(wakeup) and op is not None:
            logger.warning(
                "the %s %r returned without finishing %s or waiting again; it stays running",
                wakeup.target_kind,
                wakeup.target,
                wakeup.name,
            )
        return "resumed"

    def _run_name(self, wakeup: Wakeup) -> str:
        """What the run's span is named after: the handler, or the callback function.

        A gRPC method's run has its span in the service that serves it (see
        ``lro.serving.OperationInterceptor``); the worker records only the lag."""
        if wakeup.target_kind == "callback":
            callback = self.client._callbacks.get(wakeup.name)
            return callback.function.__qualname__ if callback else "callback"
        return wakeup.target

    def _wait_outcome(self, wakeup: Wakeup, resume_point: str) -> bool | None:
        """False if every child is done, True if the deadline passed first, None if
        the wait goes on (the wake-up was postponed)."""
        if not wakeup.children:
            return False
        if wakeup.child_endpoint:
            pending = self._pending_at_endpoint(wakeup)
        else:
            records = self.store.get_many(wakeup.children)
            pending = {
                name for name in wakeup.children if name not in records or not records[name].done
            }
        if not pending:
            return False
        time_us = now_us()
        if time_us >= wakeup.deadline_us:
            logger.info(
                "the wait of %s for resume point %r timed out with children still running: %s",
                wakeup.name,
                resume_point,
                ", ".join(sorted(pending)),
            )
            return True
        elapsed = (time_us - (wakeup.ready_time_us or wakeup.schedule_time_us)) / 1e6
        delay = backoff.poll_delay(
            elapsed,
            FIRST_POLL_DELAY,
            max(wakeup.poll_frequency_us / 1e6, FIRST_POLL_DELAY),
            (wakeup.deadline_us - time_us) / 1e6,
        )
        self.store.postpone_wakeup(wakeup, round(delay * 1e6))
        logger.debug(
            "%s waits for %d children still; polling again in %.3f s",
            wakeup.name,
            len(pending),
            delay,
        )
        return None

    def _pending_at_endpoint(self, wakeup: Wakeup) -> set[str]:
        try:
            found = self.channels.get_operations(
                wakeup.child_endpoint, wakeup.children, self.settings.call_timeout
            )
        except Exception as exc:
            if status_of(exc).code in TRANSIENT_CODES:
                logger.info("children of %s: %s; polling again", wakeup.name, exc)
                return set(wakeup.children)
            raise
        return {name for name, operation in found.items() if not operation.done}

    def _call_target(self, wakeup: Wakeup, record: OperationRecord) -> Operation[Any] | None:
        """Resume the operation; returns the handle a handler or callback used."""
        if wakeup.target_kind == "grpc":
            self.channels.call_method(
                wakeup.target_endpoint, wakeup.target, wakeup.name, self.settings.call_timeout
            )
            return None
        registry = self.client._handlers if wakeup.target_kind == "handler" else None
        key = wakeup.target if registry is not None else wakeup.name
        resumable = (registry if registry is not None else self.client._callbacks).get(key)
        if resumable is None:
            raise FailedPrecondition(f"no {wakeup.target_kind} {key!r} in this process")
        op = self.client._operation_for(
            record,
            resumable.state_type,
            handler_name=wakeup.target if registry is not None else "",
            callback=resumable.function if registry is None else None,
        )
        resumable.function(op)
        return op

    def _fail(self, wakeup: Wakeup, exc: Exception) -> None:
        """Count a failed run; retry later, or end the operation with the error.

        A resume host that cannot be reached (UNAVAILABLE) is retried without end,
        backing off to ``max_retry_delay``: a deploy or a restart must not fail the
        operations that wait for it. ``attempts`` and ``last_error`` show it meanwhile.
        """
        current = self.store.get(wakeup.name)
        if current.done:  # e.g. cancelled, or another run finished it: nothing failed
            logger.info("%s ended while its %s ran", wakeup.name, wakeup.target_kind)
            self.store.finish_wakeup(wakeup)
            return
        status = status_of(exc)
        attempt = current.attempts + 1
        unreachable = wakeup.target_kind == "grpc" and status.code == code_pb2.UNAVAILABLE
        final = attempt >= self.settings.max_attempts and not unreachable
        delay = backoff.retry_delay(
            attempt, self.settings.retry_delay, self.settings.max_retry_delay
        )
        attempts = (
            f"attempt {attempt}; the resume host is unreachable"
            if unreachable
            else f"attempt {attempt} of {self.settings.max_attempts}"
        )
        _log_failure(wakeup, current.resume_point, attempts, None if final else delay, exc)
        counted = self.store.record_failure(
            wakeup, failure_text(status), None if final else round(delay * 1e6)
        )
        if counted is None:
            logger.info("lost the lease on %s before its failure was counted", wakeup.name)
            return
        if not final:
            return
        with contextlib.suppress(OperationAlreadyDone):
            update_record(
                self.store,
                counted,
                lambda r: r.replace(operation=transitions.fail(r.operation, status)),
            )
        self.store.finish_wakeup(wakeup)


def _log_progress(
    level: int, step: str, wakeup: Wakeup, record: OperationRecord, detail: str
) -> None:
    """``claimed`` or ``resuming``: the operation, its resume point and its target."""
    logger.log(
        level,
        "%s %s at resume point %r (%s %r; %s)",
        step,
        wakeup.name,
        record.resume_point,
        wakeup.target_kind,
        wakeup.target,
        detail,
    )


def _log_failure(
    wakeup: Wakeup, resume_point: str, attempts: str, retry_in: float | None, exc: Exception
) -> None:
    """A failed run, with its traceback: at WARNING when it is retried (``retry_in``
    seconds later), at ERROR when it ends the operation (``retry_in`` None)."""
    logger.log(
        logging.WARNING if retry_in is not None else logging.ERROR,
        "%s: the %s %r failed at resume point %r (%s); %s",
        wakeup.name,
        wakeup.target_kind,
        wakeup.target,
        resume_point,
        attempts,
        f"retrying in {retry_in:.2f} s"
        if retry_in is not None
        else "the operation ends with this error",
        exc_info=exc,
    )
