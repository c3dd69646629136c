"""Turning ``op.wait(..., resume_at=...)`` and ``client.start`` into wake-up records."""

from __future__ import annotations

from collections.abc import Sequence

from lro._core import transitions
from lro._core.errors import Aborted, FailedPrecondition, InvalidArgument
from lro._runtime import ResumeTarget
from lro._store.base import (
    OperationRecord,
    StaleVersion,
    Store,
    WaitPlan,
    Wakeup,
    WakeupStore,
    compare_and_set_attempts,
    newest,
)
from lro._store.turns import retry_alone, write_turn

WAKEUP_VERBS = ("schedule", "claim_wakeups", "finish_wakeup", "get_wakeup")


def wakeup_store(store: Store) -> WakeupStore:
    """``store`` if its backend keeps wake-ups, else FailedPrecondition."""
    refusal = getattr(store, "wakeups_refused", "")
    if refusal:
        raise FailedPrecondition(str(refusal))
    if all(callable(getattr(store, verb, None)) for verb in WAKEUP_VERBS):
        return store  # type: ignore[return-value]
    raise FailedPrecondition(
        f"{type(store).__name__} cannot keep durable waits (resume_at); "
        "use a store with wake-ups, such as SQLite"
    )


def micros(value: float) -> int:
    """Seconds as whole microseconds."""
    return round(value * 1_000_000)


def wait_plan(
    target: ResumeTarget,
    *,
    sleep: float,
    children: Sequence[str],
    timeout: float,
    poll_frequency: float,
    child_endpoint: str,
) -> WaitPlan:
    """The record of a durable wait that resumes ``target``."""
    if child_endpoint and not children:
        raise InvalidArgument("child_endpoint needs children to wait for")
    return WaitPlan(
        target_kind=target.kind,
        target=target.name,
        target_endpoint=target.endpoint,
        pinned_to=target.pinned_to,
        sleep_us=micros(sleep),
        timeout_us=micros(timeout) if children else 0,
        poll_frequency_us=micros(poll_frequency),
        children=tuple(children),
        child_endpoint=child_endpoint,
    )


def schedule_resumption(
    store: WakeupStore, current: OperationRecord, point: str, state: bytes | None, plan: WaitPlan
) -> tuple[OperationRecord, Wakeup]:
    """Save ``state``, resume point ``point`` and the wake-up in one transaction.

    ``state`` None keeps the stored state. Retries a lost compare-and-set on the
    latest record, backing off (re-read and written as ``update_record`` does); a done
    operation refuses (OperationCancelled if a
    caller cancelled it).
    """
    with write_turn(store, current.name) as turn:
        record = newest(current, turn.latest)
        for attempt in compare_and_set_attempts():
            with retry_alone(store, attempt):
                if attempt:
                    record = store.get(record.name)
                transitions.ensure_running(record.operation)
                changed = record.replace(
                    resume_point=point,
                    state=state if state is not None else record.state,
                    attempts=0,
                    wait_timed_out=False,
                )
                try:
                    turn.latest, wakeup = store.schedule(changed, record.version, plan)
                    return turn.latest, wakeup
                except StaleVersion:
                    continue
    raise Aborted(f"operation {current.name!r} changed too often to schedule its wait")
