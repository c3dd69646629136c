"""The store protocol every backend implements, and the record it keeps."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Collection
from typing import Protocol

import google.longrunning.operations_proto_pb2 as operations_pb2

from lro._core.anys import type_name
from lro._core.errors import Aborted
from lro._core.listing import ListQuery
from lro._store.notify import ChangeHub

MAX_UPDATE_ATTEMPTS = 100


class StaleVersion(Aborted):
    """The record changed since it was read (a compare-and-set lost)."""


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
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def now_us() -> int:
    """Microseconds since the epoch, the stores' clock."""
    return time.time_ns() // 1000


class Store(Protocol):
    """What every backend does. Each write publishes the name on ``changes``."""

    changes: ChangeHub

    def create(self, record: OperationRecord) -> OperationRecord:
        """Insert ``record`` at version 1; AlreadyExists if the name is taken."""
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
    (for example OperationAlreadyDone), which ends the attempt.
    """
    record = current
    for _ in range(MAX_UPDATE_ATTEMPTS):
        try:
            return store.update(change(record), expected_version=record.version)
        except StaleVersion:
            record = store.get(record.name)
    raise Aborted(f"operation {current.name!r} changed too often to update; try again")
