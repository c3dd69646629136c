"""The store protocol every backend implements, and the record it keeps."""

from __future__ import annotations

import dataclasses
import operator
import time
from collections.abc import Callable, Collection, Iterator
from typing import Literal, Protocol

import google.longrunning.operations_proto_pb2 as operations_pb2

from lro import _telemetry as telemetry
from lro._core.anys import type_name
from lro._core.backoff import backoff_delays
from lro._core.errors import Aborted, AlreadyExists
from lro._core.filters import CompiledFilter, Expression, SqlDialect, compile_filter
from lro._core.listing import ListQuery
from lro._store.notify import ChangeHub
from lro._store.turns import retry_alone, write_turn

# A compare-and-set that loses retries after a jittered pause that doubles from 1 ms
# to 50 ms, for up to 5 s; then the writer gets Aborted.
UPDATE_RETRY_SECONDS = 5.0
UNSERVED_HANDLERS_LIMIT = 100
FIRST_RETRY_PAUSE = 0.001
LONGEST_RETRY_PAUSE = 0.05


class StaleVersion(Aborted):
    """The record changed since it was read (a compare-and-set lost)."""


class DuplicateRequest(AlreadyExists):
    """An insert's request id was used before in its collection (AIP-155):
    ``existing`` names the operation created then."""

    def __init__(self, existing: str) -> None:
        super().__init__(f"the request id was used before, by operation {existing!r}")
        self.existing = existing


@dataclasses.dataclass(frozen=True, slots=True)
class OperationRecord:
    """One stored operation: the public proto plus the private columns.

    ``operation`` must be treated as immutable; change a copy.
    """

    operation: operations_pb2.Operation
    state: bytes | None = None
    resume_point: str = ""
    resume_target: str = ""
    version: int = 1
    create_time_us: int = 0
    update_time_us: int = 0
    attempts: int = 0
    last_error: str = ""
    wait_timed_out: bool = False
    # The W3C trace context current when the operation was created (see lro._telemetry);
    # written once, with the insert.
    trace_context: str = ""
    # The AIP-155 request id that created the operation ("" for none); written once,
    # with the insert; unique within the operation's collection.
    request_id: str = ""

    @property
    def name(self) -> str:
        """The operation's name."""
        return self.operation.name

    @property
    def done(self) -> bool:
        """Whether the operation is done."""
        return self.operation.done

    @property
    def error_code(self) -> int | None:
        """The error code of a failed operation, else None."""
        return self.operation.error.code if self.operation.HasField("error") else None

    @property
    def metadata_type(self) -> str:
        """The full name of the metadata message type, or empty."""
        return type_name(self.operation.metadata)

    def replace(self, **changes: object) -> OperationRecord:
        """A copy with ``changes``, as ``dataclasses.replace`` gives (each write makes a
        few, so this copies the fields without the frozen ``__init__``'s cost)."""
        copy = object.__new__(OperationRecord)
        for set_slot, value in zip(_SLOT_SETTERS, _record_values(self), strict=False):
            set_slot(copy, value)
        for field, value in changes.items():
            object.__setattr__(copy, field, value)  # AttributeError for an unknown field
        return copy


_RECORD_FIELDS = tuple(field.name for field in dataclasses.fields(OperationRecord))
_record_values = operator.attrgetter(*_RECORD_FIELDS)
# Each field's slot, set directly: the quickest copy of a frozen record.
_SLOT_SETTERS = tuple(getattr(OperationRecord, field).__set__ for field in _RECORD_FIELDS)


def now_us() -> int:
    """Microseconds since the epoch, the stores' clock."""
    return time.time_ns() // 1000


class Store(Protocol):
    """What every backend does. Each write publishes the name on ``changes``."""

    changes: ChangeHub

    def create(self, record: OperationRecord) -> OperationRecord:
        """Insert ``record`` at version 1; AlreadyExists if the name is taken,
        DuplicateRequest if its request id was used before in its collection."""
        ...

    def get(self, name: str) -> OperationRecord:
        """The record called ``name``; NotFound if none."""
        ...

    def get_many(self, names: Collection[str]) -> dict[str, OperationRecord]:
        """The records that exist among ``names``, by name."""
        ...

    def update(self, record: OperationRecord, expected_version: int) -> OperationRecord:
        """Write ``record`` if the stored version is ``expected_version``.

        Returns the record as stored (version + 1). Raises StaleVersion if another
        write came first, NotFound if the record is gone.
        """
        ...

    def delete(self, name: str) -> None:
        """Remove ``name``; NotFound if none."""
        ...

    def list_page(self, query: ListQuery) -> list[OperationRecord]:
        """One page of ``query``: the operations of ``query.collection`` that match
        ``query.filter``, after ``query.after`` in (create time, name) order, at most
        ``query.limit``. The filter is compiled with ``lro._core.filters.compile_filter``.
        """
        ...

    def page_token_key(self) -> bytes:
        """The secret that signs page tokens, the same for every process on this store."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def update_record(
    store: Store,
    current: OperationRecord,
    change: Callable[[OperationRecord], OperationRecord],
) -> OperationRecord:
    """Apply ``change`` with compare-and-set, re-reading and retrying when it loses.

    ``change`` must be a pure function of the record it gets; it may raise to refuse
    (for example OperationAlreadyDone), which ends the attempt. The writers of one
    operation in this process take turns (``write_turn``); retries back off (see
    ``compare_and_set_attempts``), re-read and write holding the store's lock on this
    process's writers if it has one (``retry_alone``); Aborted when they run out.
    """
    with write_turn(store, current.name) as turn:
        record = newest(current, turn.latest)
        for attempt in compare_and_set_attempts():
            with retry_alone(store, attempt):
                if attempt:
                    record = store.get(record.name)
                try:
                    updated = store.update(change(record), expected_version=record.version)
                except StaleVersion:
                    continue
            turn.latest = updated
            if updated.done and not record.done:
                telemetry.operation_finished(updated.operation)
            return updated
    raise Aborted(f"operation {current.name!r} changed too often to update; try again")


def newest(record: OperationRecord, other: OperationRecord | None) -> OperationRecord:
    """The newer of two reads of one operation."""
    return other if other is not None and other.version > record.version else record


def compare_and_set_attempts(budget: float = UPDATE_RETRY_SECONDS) -> Iterator[int]:
    """The attempts of a compare-and-set, numbered from 0.

    Before each retry it sleeps a jittered pause that doubles from 1 ms to 50 ms, so
    that many writers of one hot operation spread out instead of colliding again;
    it stops once ``budget`` seconds have passed.
    """
    deadline = time.monotonic() + budget
    pauses = backoff_delays(FIRST_RETRY_PAUSE, LONGEST_RETRY_PAUSE, jitter=1.0)
    attempt = 0
    while True:
        yield attempt
        pause = next(pauses)
        if time.monotonic() + pause > deadline:
            return
        time.sleep(pause)
        attempt += 1


# Durable waits ---------------------------------------------------------------------------

TargetKind = Literal["handler", "grpc", "callback"]


@dataclasses.dataclass(frozen=True, slots=True)
class WaitPlan:
    """A durable wait to record: what to wait for, and whom to resume after it.

    Times are relative; the store turns them into due and deadline times on its own
    clock, so that workers on several machines agree on them.
    """

    target_kind: TargetKind
    target: str
    sleep_us: int = 0
    timeout_us: int = 0
    poll_frequency_us: int = 3_000_000
    children: tuple[str, ...] = ()
    child_endpoint: str = ""
    target_endpoint: str = ""
    pinned_to: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Wakeup:
    """A stored wake-up: the plan made absolute, and its lease.

    ``ready_time_us`` is the end of the sleep; ``due_time_us`` is when a claim may take
    it (for a wait on running children in this store: the deadline, brought forward to
    the ready time when the last child finishes).

    ``lease_token`` is new at every claim; a worker may change or remove the row only
    while the token it got is still the row's (else the lease passed to another).
    """

    name: str
    target_kind: TargetKind
    target: str
    due_time_us: int
    deadline_us: int
    poll_frequency_us: int
    children: tuple[str, ...] = ()
    child_endpoint: str = ""
    target_endpoint: str = ""
    pinned_to: str = ""
    schedule_time_us: int = 0
    ready_time_us: int = 0
    lease_owner: str = ""
    lease_token: str = ""
    lease_expires_us: int = 0
    claims: int = 0


class WakeupStore(Store, Protocol):
    """The verbs of durable waits, on top of ``Store``.

    A backend must make ``schedule`` atomic with the operation's write, make
    ``claim_wakeups`` exclusive (no row is claimed by two workers while its lease runs)
    and run each claim as one statement (one query per poll tick, however many rows
    wait).

    Optional: ``unserved_handlers(handlers, overdue_us) -> set[str]``, the handlers
    other than ``handlers`` that wake-ups due for more than ``overdue_us`` and leased by
    nobody wait for (at most ``UNSERVED_HANDLERS_LIMIT`` names); workers warn of them.
    """

    def schedule(
        self, record: OperationRecord, expected_version: int | None, plan: WaitPlan
    ) -> tuple[OperationRecord, Wakeup]:
        """Write ``record`` and its wake-up in one transaction.

        ``expected_version`` None inserts the record (AlreadyExists if taken,
        DuplicateRequest as in ``create``); else the
        write is a compare-and-set as in ``update``. Any earlier wake-up of the
        operation is replaced and its lease ended.
        """
        ...

    def claim_wakeups(
        self,
        owner: str,
        *,
        lease_us: int,
        limit: int,
        handlers: Collection[str],
        pinned_to: str,
    ) -> list[Wakeup]:
        """Lease up to ``limit`` wake-ups that are ready, earliest due first.

        Ready: due, not leased (or lease expired), and either every child in this
        store is done, or the deadline passed, or the children live behind an
        endpoint (the worker polls those). Handler wake-ups only for ``handlers``;
        pinned ones only for ``pinned_to``.
        """
        ...

    def claim_wakeup(
        self, name: str, *, owner: str, lease_us: int, pinned_to: str, handler: str
    ) -> Wakeup | None:
        """Lease the wake-up of operation ``name`` for the resume endpoint, if it is due,
        not leased, pinned to ``pinned_to`` and resumes the handler ``handler``.

        Exclusive like ``claim_wakeups``: of two claims at once, one gets it.
        """
        ...

    def renew_wakeups(self, tokens: Collection[str], lease_us: int) -> set[str]:
        """Extend the leases still held; returns the tokens that were."""
        ...

    def postpone_wakeup(self, wakeup: Wakeup, delay_us: int) -> bool:
        """Release the lease and make the wake-up due again after ``delay_us``."""
        ...

    def record_failure(
        self, wakeup: Wakeup, error: str, retry_delay_us: int | None
    ) -> OperationRecord | None:
        """Count a failed handler run on the operation (attempts, last error).

        With ``retry_delay_us`` the wake-up is postponed by it (lease released); with
        None the lease is kept. None if the lease was lost.
        """
        ...

    def finish_wakeup(self, wakeup: Wakeup) -> bool:
        """Remove the wake-up if this lease still holds it."""
        ...

    def release_wakeups(self, tokens: Collection[str]) -> int:
        """End the leases of ``tokens`` so that other workers may claim them now."""
        ...

    def get_wakeup(self, name: str) -> Wakeup | None:
        """The wake-up of operation ``name``, if one is pending."""
        ...


# Retention ---------------------------------------------------------------------------------

PURGE_BATCH = 2000


@dataclasses.dataclass(frozen=True, slots=True)
class PurgeQuery:
    """Which operations a purge deletes: the done ones of ``collection`` (None: of every
    collection) last updated before ``before_us`` (store clock) that match ``filter``, at
    most ``limit`` a batch.

    A done operation that a pending durable wait still waits for is kept.
    """

    collection: str | None
    filter: Expression | None
    before_us: int
    limit: int = PURGE_BATCH


class PurgingStore(Store, Protocol):
    """A store that can purge (optional: the SQL stores and Spanner have it)."""

    def purge_batch(self, query: PurgeQuery) -> int:
        """Delete up to ``query.limit`` of the operations ``query`` selects, and their
        wake-ups, in one short transaction; how many went. A running operation, or
        one written since it was read, is never deleted."""
        ...

    def count_purgeable(self, query: PurgeQuery) -> int:
        """How many operations ``query`` selects now (deleting nothing)."""
        ...


COLLECTION_PARAMETER = "purge_collection"


def purge_conditions(query: PurgeQuery, dialect: SqlDialect) -> CompiledFilter:
    """The collection's condition and ``query.filter``, as SQL over ``dialect``."""
    compiled = compile_filter(query.filter, dialect)
    if query.collection is None:
        return compiled
    placeholder = dialect.placeholder.format(COLLECTION_PARAMETER)
    return CompiledFilter(
        f"collection = {placeholder} AND {compiled.sql}",
        {**compiled.params, COLLECTION_PARAMETER: query.collection},
    )
