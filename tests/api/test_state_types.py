"""A state with datetimes, UUIDs, decimals and enums, saved and read back on every backend."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import uuid

import pytest

import lro


class Phase(enum.Enum):
    LOADING = "loading"
    CHECKING = "checking"


@dataclasses.dataclass
class Batch:
    id: uuid.UUID
    started: datetime.datetime
    cost: decimal.Decimal
    phase: Phase = Phase.LOADING
    retries_at: list[datetime.datetime] = dataclasses.field(default_factory=list)


def test_a_dataclass_with_a_datetime_is_saved_and_read_back(client: lro.Client) -> None:
    batch = Batch(
        id=uuid.uuid4(),
        started=datetime.datetime(2025, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.UTC),
        cost=decimal.Decimal("0.0301"),
        phase=Phase.CHECKING,
        retries_at=[datetime.datetime(2025, 5, 6, 8, 0, tzinfo=datetime.UTC)],
    )
    op = client.new_operation(state_type=Batch)
    op.state = batch
    again = client.new_operation(state_type=Batch, existing=op.name)
    assert again.state == batch
    assert again.state.started.tzinfo is not None


def test_a_stored_state_that_no_longer_fits_is_invalid(client: lro.Client) -> None:
    op = client.new_operation(state_type=dict)
    op.state = {"id": "not a uuid", "started": "2025-05-06T07:08:09Z", "cost": "1"}
    with pytest.raises(lro.InvalidState, match=r"state\.id"):
        _ = client.new_operation(state_type=Batch, existing=op.name).state
