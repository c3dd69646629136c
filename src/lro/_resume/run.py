"""Resuming one claimed wake-up: check its wait, call its target, record the outcome."""

from __future__ import annotations

import contextlib
import dataclasses
import logging

from google.rpc import code_pb2

from lro import _telemetry as telemetry
from lro._core import transitions, waiting
from lro._core.attempts import AttemptPolicy
from lro._core.errors import FailedPrecondition, NotFound, OperationAlreadyDone
from lro._core.statuses import failure_text, status_of
from lro._drive import drive
from lro._resume.channels import Channels
from lro._resume.counts import Outcome
from lro._runtime import Resumable, Runtime
from lro._store.base import OperationRecord, Wakeup, WakeupStore, update_record

logger = logging.getLogger("lro.worker")
CALL_TIMEOUT = 60.0


@dataclasses.dataclass(frozen=True, slots=True)
class RunSettings:
    """How a worker runs a resumption: the attempts policy, and the timeout of a call
    to a resume host or a child endpoint."""

    attempts: AttemptPolicy = dataclasses.field(default_factory=AttemptPolicy)
    call_timeout: float = CALL_TIMEOUT


class Resumption:
    """One claimed wake-up of the runtime's store, run to its end."""

    def __init__(
        self, runtime: Runtime, store: WakeupStore, channels: Channels, settings: RunSettings
    ) -> None:
        self.runtime = runtime
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
            decision = self._decide(wakeup)
        except Exception as exc:  # a child endpoint failed for good
            self._fail(wakeup, exc)
            return "failed"
        if isinstance(decision, waiting.Postpone):
            self._postpone(wakeup, decision)
            return "postponed"
        if isinstance(decision, waiting.TimedOut):
            logger.info(
                "the wait of %s for resume point %r timed out with children still running: %s",
                wakeup.name,
                record.resume_point,
                ", ".join(decision.pending),
            )
            record = update_record(self.store, record, lambda r: r.replace(wait_timed_out=True))
        outcome = "its wait timed out" if isinstance(decision, waiting.TimedOut) else "due"
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
                now_us=self.runtime.clock.now_us(),
            ) as run:
                seen = self._call_target(wakeup, record)
                run.finished(seen.operation if seen is not None else None)
        except Exception as exc:
            self._fail(wakeup, exc)
            return "failed"
        self._after_run(wakeup, seen)
        return "resumed"

    def _run_name(self, wakeup: Wakeup) -> str:
        """What the run's span is named after: the handler, or the callback function.

        A gRPC method's run has its span in the service that serves it (see
        ``lro.serving.OperationInterceptor``); the worker records only the lag."""
        if wakeup.target_kind == "callback":
            callback = self.runtime.registry.callback(wakeup.name)
            return callback.label if callback and callback.label else "callback"
        return wakeup.target

    def _after_run(self, wakeup: Wakeup, seen: OperationRecord | None) -> None:
        """The target returned: the wake-up went if it finished or waited again."""
        if seen is not None and seen.done:  # finishing removed the wake-up
            if wakeup.target_kind == "callback":
                self.runtime.registry.drop_callback(wakeup.name)
            return
        if self.store.finish_wakeup(wakeup) and seen is not None:
            logger.warning(
                "the %s %r returned without finishing %s or waiting again; it stays running",
                wakeup.target_kind,
                wakeup.target,
                wakeup.name,
            )

    def _decide(self, wakeup: Wakeup) -> waiting.Decision:
        """Whether the wait is over (see ``waiting.resume_decision``)."""
        service = (
            self.channels.service(wakeup.child_endpoint, self.settings.call_timeout)
            if wakeup.child_endpoint and wakeup.children
            else None
        )
        steps = waiting.resume_decision(
            wakeup.children,
            source=self.store,
            service=service,
            deadline_us=wakeup.deadline_us,
            waiting_since_us=wakeup.ready_time_us or wakeup.schedule_time_us,
            poll_frequency_us=wakeup.poll_frequency_us,
            now_us=self.runtime.clock.now_us,
        )
        return drive(steps, self.runtime.clock)

    def _postpone(self, wakeup: Wakeup, decision: waiting.Postpone) -> None:
        """The children still run: look again after the decision's pause."""
        if decision.note:
            logger.info("%s: %s; polling again", wakeup.name, decision.note)
        self.store.postpone_wakeup(wakeup, round(decision.delay * 1e6))
        logger.debug(
            "%s waits for %d children still; polling again in %.3f s",
            wakeup.name,
            decision.pending,
            decision.delay,
        )

    def _call_target(self, wakeup: Wakeup, record: OperationRecord) -> OperationRecord | None:
        """Resume the operation; returns its record as a handler or callback left it."""
        if wakeup.target_kind == "grpc":
            self.channels.call_method(
                wakeup.target_endpoint, wakeup.target, wakeup.name, self.settings.call_timeout
            )
            return None
        resumable = _resumable(self.runtime, wakeup)
        return resumable.run(record)

    def _fail(self, wakeup: Wakeup, exc: Exception) -> None:
        """Count a failed run; retry later, or end the operation with the error.

        A resume host that cannot be reached (UNAVAILABLE) is retried without end,
        backing off to the policy's longest delay: a deploy or a restart must not fail
        the operations that wait for it. ``attempts`` and ``last_error`` show it
        meanwhile.
        """
        current = self.store.get(wakeup.name)
        if current.done:  # e.g. cancelled, or another run finished it: nothing failed
            logger.info("%s ended while its %s ran", wakeup.name, wakeup.target_kind)
            self.store.finish_wakeup(wakeup)
            return
        status = status_of(exc)
        attempt = current.attempts + 1
        policy = self.settings.attempts
        unreachable = wakeup.target_kind == "grpc" and status.code == code_pb2.UNAVAILABLE
        final = policy.is_last(attempt, retry_forever=unreachable)
        delay = None if final else policy.delay(attempt)
        attempts = (
            f"attempt {attempt}; the resume host is unreachable"
            if unreachable
            else f"attempt {attempt} of {policy.max_attempts}"
        )
        _log_failure(wakeup, current.resume_point, attempts, delay, exc)
        counted = self.store.record_failure(
            wakeup, failure_text(status), None if delay is None else round(delay * 1e6)
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


def _resumable(runtime: Runtime, wakeup: Wakeup) -> Resumable:
    """The handler or callback that ``wakeup`` resumes, registered in this process."""
    registry = runtime.registry
    if wakeup.target_kind == "handler":
        found, key = registry.handler(wakeup.target), wakeup.target
    else:
        found, key = registry.callback(wakeup.name), wakeup.name
    if found is None:
        raise FailedPrecondition(f"no {wakeup.target_kind} {key!r} in this process")
    return found


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
