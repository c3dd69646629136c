"""The resume endpoint's work: run a registered handler when its Cloud Task is due.

Cloud Tasks calls ``PUT {resume_host}/operations/{handler}?operation={name}&wakeup={token}``
when a sleep is over, and may deliver a task more than once. The handler runs only when
the operation's wake-up is bound to that task (see ``lro._resume.binding``), resumes
that handler and is due; the endpoint claims it under a lease first, so that two
deliveries at once run it once. Every other delivery is acknowledged and does nothing.

A failed run is counted on the operation (``attempts``, ``last_error``) and answered
with its error, so that Cloud Tasks tries again; after ``max_attempts`` the operation
ends with the handler's error instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
from collections.abc import Iterator

from google.rpc import code_pb2

from lro import _telemetry as telemetry
from lro._core import transitions
from lro._core.attempts import MAX_ATTEMPTS, AttemptPolicy
from lro._core.clock import Clock
from lro._core.errors import Aborted, Error, NotFound, OperationAlreadyDone, Unavailable
from lro._core.names import validate_name
from lro._core.statuses import failure_text, status_of
from lro._resume.binding import binding_store, task_pin
from lro._resume.leases import LeaseRenewer
from lro._resume.plan import micros
from lro._runtime import Resumable, Runtime
from lro._store.base import Wakeup, WakeupStore, update_record

logger = logging.getLogger("lro.resume")
DEFAULT_MAX_ATTEMPTS = MAX_ATTEMPTS
LEASE_SECONDS = 30.0  # renewed every third of it while the handler runs
OWNER = f"resume-endpoint/{socket.gethostname()}/{os.getpid()}"


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """What a delivery did: ``resumed``; ``failed`` (its last attempt ended the
    operation); or ``ignored``, with the reason."""

    outcome: str
    reason: str = ""


def resume_now(
    runtime: Runtime,
    handler: str,
    name: str,
    wake_up: str,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> Outcome:
    """Run ``handler`` on operation ``name`` if its wake-up ``wake_up`` is due.

    Raises:
        NotFound: no handler of that name is registered here.
        Unavailable: the task came before its wake-up is due; Aborted: another
            delivery is running the operation. Both tell Cloud Tasks to try again.
        Error: with the handler's code, when a run that is not the last fails.
    """
    resumable = runtime.registry.handler(handler)
    if resumable is None:
        raise NotFound(f"handler {handler!r}")
    name = validate_name(name)
    store = binding_store(runtime.store)
    wakeup = None
    if wake_up:
        wakeup = store.claim_wakeup(
            name,
            owner=OWNER,
            lease_us=micros(LEASE_SECONDS),
            pinned_to=task_pin(wake_up),
            handler=handler,
        )
    if wakeup is None:
        return _unclaimed(store, name, handler, wake_up, runtime.clock.now_us())
    return _run(store, runtime.clock, resumable, wakeup, AttemptPolicy(max_attempts))


def _unclaimed(store: WakeupStore, name: str, handler: str, wake_up: str, time_us: int) -> Outcome:
    """Why the delivery found nothing to claim: ignored, or try again later."""
    current = store.get_wakeup(name)
    if current is None:
        return _ignored(name, "the operation is not waiting")
    if current.lease_expires_us > time_us:
        raise Aborted(f"operation {name!r} is being resumed by another call; try again later")
    if not wake_up or current.pinned_to != task_pin(wake_up):
        return _ignored(name, "the operation waits for another task")
    if current.target_kind != "handler" or current.target != handler:
        return _ignored(name, f"the operation does not wait for handler {handler!r}")
    raise Unavailable(f"operation {name!r} is not due yet; try again later")


def _ignored(name: str, reason: str) -> Outcome:
    logger.info("a resume of %s is ignored: %s", name, reason)
    return Outcome("ignored", reason)


def _run(
    store: WakeupStore, clock: Clock, resumable: Resumable, wakeup: Wakeup, policy: AttemptPolicy
) -> Outcome:
    record = store.get(wakeup.name)
    try:
        with (
            _lease_kept(store, clock, wakeup),
            telemetry.handler_run(wakeup.target, record, wakeup.due_time_us) as run,
        ):
            run.finished(resumable.run(record).operation)
    except Exception as exc:
        return _count_failure(store, wakeup, exc, policy)
    if store.finish_wakeup(wakeup):  # still ours: neither finished nor waiting again
        logger.warning(
            "handler %r returned without finishing %s or waiting again; it stays running",
            wakeup.target,
            wakeup.name,
        )
    return Outcome("resumed")


@contextlib.contextmanager
def _lease_kept(store: WakeupStore, clock: Clock, wakeup: Wakeup) -> Iterator[None]:
    """Renew the lease of ``wakeup`` every third of it until the block ends."""
    renewer = LeaseRenewer(store, clock, LEASE_SECONDS, name="lro-resume-lease", log=logger)
    renewer.hold(wakeup.lease_token)
    try:
        yield
    finally:
        renewer.stop()


def _count_failure(
    store: WakeupStore, wakeup: Wakeup, exc: Exception, policy: AttemptPolicy
) -> Outcome:
    """Count the failed run; release the wake-up for Cloud Tasks' next try (answered
    with the handler's code), or end the operation with the error after the last
    attempt."""
    status = status_of(exc)
    message = failure_text(status)
    final = policy.is_last(store.get(wakeup.name).attempts + 1)
    counted = store.record_failure(wakeup, message, None if final else 0)
    if counted is not None:  # else the run finished the operation or waited again
        logger.log(
            logging.ERROR if final else logging.WARNING,
            "%s: the handler failed at resume point %r (attempt %d of %d)",
            wakeup.name,
            counted.resume_point,
            counted.attempts,
            policy.max_attempts,
            exc_info=exc,
        )
    if counted is None or not final:
        code = status.code or code_pb2.UNKNOWN
        raise Error.from_code(
            code, f"handler {wakeup.target!r} failed with {code_pb2.Code.Name(code)}"
        ) from exc
    with contextlib.suppress(OperationAlreadyDone):
        update_record(
            store, counted, lambda r: r.replace(operation=transitions.fail(r.operation, status))
        )
    store.finish_wakeup(wakeup)
    return Outcome("failed")
