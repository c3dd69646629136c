"""The resume endpoint's work: run a registered handler now, as a Cloud Task asks.

Cloud Tasks calls ``PUT {resume_host}/operations/{handler}?operation={name}`` when a
sleep is over. The handler runs in the request; a failure is counted on the operation
(``attempts``, ``last_error``) and answered with its error, so that Cloud Tasks tries
again; after ``max_attempts`` the operation ends with the handler's error instead.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from lro._core import transitions
from lro._core.errors import NotFound, OperationAlreadyDone
from lro._core.names import validate_name
from lro._core.statuses import failure_text, status_of
from lro._store.base import update_record

if TYPE_CHECKING:
    from lro._client import Client

logger = logging.getLogger("lro.resume")
DEFAULT_MAX_ATTEMPTS = 5


def resume_now(
    client: Client, handler: str, name: str, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> str:
    """Run ``handler`` on operation ``name``; returns what happened.

    ``"done"`` if the operation was done already (a repeated task), ``"resumed"`` after
    the handler returned, ``"failed"`` when the last allowed attempt failed and ended
    the operation. Other failures raise the handler's error.
    """
    resumable = client._handlers.get(handler)
    if resumable is None:
        raise NotFound(f"handler {handler!r}")
    store = client.store
    record = store.get(validate_name(name))
    if record.done:
        return "done"
    op = client._operation_for(record, resumable.state_type, handler_name=handler)
    try:
        resumable.function(op)
    except Exception as exc:
        return _count_failure(client, name, exc, max_attempts)
    return "resumed"


def _count_failure(client: Client, name: str, exc: Exception, max_attempts: int) -> str:
    status = status_of(exc)
    message = failure_text(status)
    store = client.store
    current = store.get(name)
    if current.done:  # cancelled or finished while the handler ran: nothing failed
        return "done"
    counted = update_record(
        store, current, lambda r: r.replace(attempts=r.attempts + 1, last_error=message)
    )
    final = not counted.done and counted.attempts >= max_attempts
    logger.log(
        logging.ERROR if final else logging.WARNING,
        "%s: the handler failed at resume point %r (attempt %d of %d)",
        name,
        counted.resume_point,
        counted.attempts,
        max_attempts,
        exc_info=exc,
    )
    if not final:
        raise exc
    with contextlib.suppress(OperationAlreadyDone):
        update_record(
            store, counted, lambda r: r.replace(operation=transitions.fail(r.operation, status))
        )
    return "failed"
