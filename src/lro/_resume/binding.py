"""Binding each Cloud Task to the wake-up it was made for.

A handler resumed through Cloud Tasks keeps a wake-up row, as every durable wait does,
pinned to a random token that its task carries (``&wakeup={token}`` in the task's URL).
No worker claims such a row: workers take unpinned rows and their own. The resume
endpoint claims it when a delivery names its operation, its handler and its token, and
it is due. Any other delivery (a task delivered twice, the task of an earlier wait)
finds nothing to claim, and does nothing.
"""

from __future__ import annotations

import dataclasses
import secrets
import time

from lro._core.errors import FailedPrecondition
from lro._resume.cloud import CloudResumer, HandOver, end_unscheduled
from lro._resume.plan import micros, schedule_resumption, wakeup_store
from lro._store.base import OperationRecord, Store, WaitPlan, WakeupStore

PIN_PREFIX = "task:"


def task_pin(token: str) -> str:
    """What the wake-up bound to the task that carries ``token`` is pinned to."""
    return PIN_PREFIX + token


def binding_store(store: Store) -> WakeupStore:
    """``store`` if it can keep wake-ups bound to tasks, else FailedPrecondition."""
    wakeups = wakeup_store(store)
    if not callable(getattr(wakeups, "claim_wakeup", None)):
        raise FailedPrecondition(
            f"{type(store).__name__} cannot resume handlers through Cloud Tasks: "
            "it has no claim_wakeup"
        )
    return wakeups


def start_with_task(
    store: Store, cloud: CloudResumer, record: OperationRecord, handler: str, delay: float = 0
) -> OperationRecord:
    """Create ``record`` and its wake-up for ``handler``, due after ``delay`` seconds,
    then the task bound to it, due as well.

    The wake-up is written first, so that the task always finds it. If the task cannot
    be created, nothing would ever run the handler: the operation ends with that error's
    code, and the error is raised (see ``end_unscheduled``).
    """
    wakeups = binding_store(store)
    token = secrets.token_urlsafe(18)
    plan = WaitPlan(
        target_kind="handler", target=handler, sleep_us=micros(delay), pinned_to=task_pin(token)
    )
    stored, _ = wakeups.schedule(record, None, plan)
    hand_over = HandOver(stored, "handler", handler, delay, (), 0, 0, "", token)
    try:
        cloud.resume_later(hand_over)
    except Exception as exc:
        raise end_unscheduled(wakeups, hand_over, exc) from exc
    return stored


def wait_with_task(
    store: Store,
    cloud: CloudResumer,
    current: OperationRecord,
    saved: tuple[str, bytes | None],
    hand_over: HandOver,
) -> OperationRecord:
    """Create the task, then save the resume point and state ``saved`` with the wake-up
    bound to the task, due when the task is.

    The task comes first: if it cannot be created, nothing is saved, and the run that
    waits fails and is tried again as it was. Until the wake-up is saved, that run holds
    the operation's current wake-up, so a delivery of the new task that comes before is
    told to try again later.
    """
    wakeups = binding_store(store)
    token = secrets.token_urlsafe(18)
    started = time.monotonic()
    cloud.resume_later(dataclasses.replace(hand_over, binding=token))
    left = max(0.0, hand_over.sleep - (time.monotonic() - started))
    plan = WaitPlan(
        target_kind="handler",
        target=hand_over.target,
        sleep_us=micros(left),
        pinned_to=task_pin(token),
    )
    point, state = saved
    record, _ = schedule_resumption(wakeups, current, point, state, plan)
    return record
