from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import pickle
import uuid
from typing import Any

import pydantic
import pytest
from google.protobuf import struct_pb2, wrappers_pb2
from hypothesis import given
from hypothesis import strategies as st

import lro
from lro._core.codecs import codec_for

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Step:
    label: str
    count: int = 0


@dataclasses.dataclass
class Plan:
    steps: list[Step]
    color: Color = Color.RED
    note: str | None = None
    scores: dict[str, float] = dataclasses.field(default_factory=dict)


class Model(pydantic.BaseModel):
    name: str
    tries: int = 0


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass
class Shipment:
    """A state with the types the first codec could not store."""

    id: uuid.UUID
    created: datetime.datetime
    amount: decimal.Decimal
    level: Level
    legs: list[tuple[str, datetime.date]]
    by_day: dict[datetime.date, list[Step]]
    seen: frozenset[str] = frozenset()
    parent: Shipment | None = None


SHIPMENTS = st.builds(
    Shipment,
    id=st.uuids(),
    created=st.datetimes(timezones=st.just(datetime.UTC)),
    amount=st.decimals(allow_nan=False, allow_infinity=False),
    level=st.sampled_from(Level),
    legs=st.lists(st.tuples(st.text(), st.dates())),
    by_day=st.dictionaries(st.dates(), st.lists(st.builds(Step, label=st.text()))),
    seen=st.frozensets(st.text()),
    parent=st.none()
    | st.builds(
        Shipment,
        **{
            "id": st.uuids(),
            "created": st.datetimes(timezones=st.just(datetime.UTC)),
            "amount": st.just(decimal.Decimal("0.10")),
            "level": st.just(Level.LOW),
            "legs": st.just([]),
            "by_day": st.just({}),
        },
    ),
)


@given(SHIPMENTS)
def test_datetimes_uuids_decimals_enums_and_nested_generics_round_trip(value: Shipment) -> None:
    codec = codec_for(Shipment)
    decoded = codec.decode(codec.encode(value))
    assert decoded == value
    assert isinstance(decoded.created, datetime.datetime)
    assert isinstance(decoded.level, Level)


def test_typed_state_is_stored_as_plain_json() -> None:
    shipment = Shipment(
        id=uuid.UUID(int=1),
        created=datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        amount=decimal.Decimal("12.50"),
        level=Level.HIGH,
        legs=[("ams", datetime.date(2025, 1, 3))],
        by_day={datetime.date(2025, 1, 3): [Step("load", 2)]},
    )
    assert codec_for(Shipment).encode(shipment) == (
        b'{"id":"00000000-0000-0000-0000-000000000001","created":"2025-01-02T03:04:05Z",'
        b'"amount":"12.50","level":2,"legs":[["ams","2025-01-03"]],'
        b'"by_day":{"2025-01-03":[{"label":"load","count":2}]},"seen":[],"parent":null}'
    )


def test_infinity_survives_a_typed_state() -> None:
    codec = codec_for(dict[str, float])
    stored = codec.encode({"up": float("inf"), "down": float("-inf")})
    assert stored == b'{"up":Infinity,"down":-Infinity}'
    assert codec.decode(stored) == {"up": float("inf"), "down": float("-inf")}


def test_stored_states_are_data_only() -> None:
    # Names of types or callables in a stored state are plain strings: nothing is
    # imported or called, and a pickle is refused.
    crafted = b'{"py/object": "os.system", "__class__": "subprocess.Popen"}'
    assert codec_for(None).decode(crafted) == {
        "py/object": "os.system",
        "__class__": "subprocess.Popen",
    }
    assert codec_for(dict[str, Any]).decode(crafted)["py/object"] == "os.system"
    with pytest.raises(lro.InvalidState, match="Unexpected"):
        codec_for(Step).decode(crafted)
    with pytest.raises(lro.InvalidState):
        codec_for(None).decode(pickle.dumps(Step("x")))
    with pytest.raises(lro.InvalidState):
        codec_for(Step).decode(pickle.dumps(Step("x")))


def test_a_type_that_cannot_be_json_is_refused_at_once() -> None:
    class Opaque:
        def __init__(self, handle: int) -> None:
            self.handle = handle

    with pytest.raises(lro.InvalidState, match="cannot be stored as JSON"):
        codec_for(Opaque)


@given(JSON)
def test_any_json_value_round_trips(value: Any) -> None:
    codec = codec_for(None)
    assert codec.decode(codec.encode(value)) == value


@given(st.dictionaries(st.text(), st.integers()))
def test_dicts_round_trip(value: dict[str, int]) -> None:
    codec = codec_for(dict)
    assert codec.decode(codec.encode(value)) == value


@given(
    st.builds(
        Plan,
        steps=st.lists(st.builds(Step, label=st.text(), count=st.integers())),
        color=st.sampled_from(Color),
        note=st.none() | st.text(),
        scores=st.dictionaries(st.text(), st.floats(allow_nan=False)),
    )
)
def test_dataclasses_round_trip(plan: Plan) -> None:
    codec = codec_for(Plan)
    assert codec.decode(codec.encode(plan)) == plan


def test_pydantic_and_proto_round_trip() -> None:
    model_codec = codec_for(Model)
    assert model_codec.decode(model_codec.encode(Model(name="n", tries=2))) == Model(
        name="n", tries=2
    )
    proto_codec = codec_for(wrappers_pb2.StringValue)
    value = wrappers_pb2.StringValue(value="v")
    assert proto_codec.decode(proto_codec.encode(value)) == value


@pytest.mark.parametrize(
    ("state_type", "stored", "message"),
    [
        (Plan, b'{"steps": [{"label": 3}]}', r"state.steps\[0\].label: .*valid string"),
        (Plan, b'{"steps": [], "extra": 1}', "state.extra: Unexpected"),
        (Plan, b'{"steps": [{"label": "a", "more": 1}]}', r"state.steps\[0\].more: Unexpected"),
        (Plan, b"{}", r"does not fit Plan: state.steps: Field required"),
        (Plan, b'{"steps": [], "color": "green"}', "state.color"),
        (Plan, b'{"steps": [{"label": "a", "count": "1"}]}', r"steps\[0\].count: .*valid integer"),
        (dict, b"[1]", "state: Input should be an object"),
        (int, b"true", "valid integer"),
        (list[int], b"[1, 2, 3.5]", r"state\[2\]: .*valid integer"),
        (Model, b'{"tries": 1}', "does not fit Model: state.name: Field required"),
        (struct_pb2.Value, b"\xff\xff", "not a Value"),
        (None, b"\x80not json", "not JSON"),
    ],
)
def test_stored_state_that_does_not_fit_is_a_clear_error(
    state_type: type[Any] | None, stored: bytes, message: str
) -> None:
    with pytest.raises(lro.InvalidState, match=message):
        codec_for(state_type).decode(stored)


def test_wrong_values_are_refused_when_saved() -> None:
    with pytest.raises(lro.InvalidState):
        codec_for(Plan).encode(Step("x"))  # type: ignore[arg-type]
    with pytest.raises(lro.InvalidState):
        codec_for(wrappers_pb2.StringValue).encode(wrappers_pb2.Int32Value())  # type: ignore[arg-type]
    with pytest.raises(lro.InvalidState):
        codec_for(None).encode({"when": object()})
    with pytest.raises(lro.InvalidState):
        codec_for(Model).encode({"name": "n"})  # type: ignore[arg-type]
    with pytest.raises(lro.InvalidState, match="label"):
        codec_for(Plan).encode(Plan(steps=[Step(label=3)]))  # type: ignore[arg-type]
    with pytest.raises(lro.InvalidState):
        codec_for(list[int]).encode(["1"])  # type: ignore[list-item]
    with pytest.raises(lro.InvalidState):  # an untyped state holds JSON values only
        codec_for(None).encode({"when": datetime.datetime.now(datetime.UTC)})
