"""The resume endpoint's work: run a registered handler now, as a Cloud Task asks.

Cloud Tasks calls ``PUT {resume_host}/operations/{handler}?operation={name}`` when a
sleep is over. The handler runs in the request; a failure is counted on the operation
(``attempts``, ``last_error``) and answered with its error, so that Cloud Tasks tries
again; after the policy's last attempt the operation ends with the handler's error
instead.
"""

from __future__ import annotations

import contextlib
import logging

from lro._core import transitions
from lro._core.attempts import MAX_ATTEMPTS, AttemptPolicy, failure_text
from lro._core.errors import NotFound, OperationAlreadyDone
from lro._core.names import validate_name
from lro._core.statuses import status_of
from lro._runtime import Runtime
from lro._store.base import update_record

logger = logging.getLogger("lro.resume")
DEFAULT_MAX_ATTEMPTS = MAX_ATTEMPTS


def resume_now(
    runtime: Runtime, handler: str, name: str, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> str:
    """Run ``handler`` on operation ``name``; returns what happened.

    ``"done"`` if the operation was done already (a repeated task), ``"resumed"`` after
    the handler returned, ``"failed"`` when the last allowed attempt failed and ended
    the operation. Other failures raise the handler's error.
    """
    resumable = runtime.registry.handler(handler)
    if resumable is None:
        raise NotFound(f"handler {handler!r}")
    record = runtime.store.get(validate_name(name))
    if record.done:
        return "done"
    try:
        resumable.run(record)
    except Exception as exc:
        return _count_failure(runtime, name, exc, AttemptPolicy(max_attempts))
    return "resumed"


def _count_failure(runtime: Runtime, name: str, exc: Exception, policy: AttemptPolicy) -> str:
    status = status_of(exc)
    message = failure_text(status)
    store = runtime.store
    counted = update_record(
        store,
        store.get(name),
        lambda r: r.replace(attempts=r.attempts + 1, last_error=message),
    )
    logger.warning("operation %s attempt %d failed: %s", name, counted.attempts, message)
    if counted.done or not policy.is_last(counted.attempts):
        raise exc
    with contextlib.suppress(OperationAlreadyDone):
        update_record(
            store, counted, lambda r: r.replace(operation=transitions.fail(r.operation, status))
        )
    return "failed"
