from __future__ import annotations

import dataclasses
import enum
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
        (Plan, b'{"steps": [{"label": 3}]}', r"state.steps\[0\].label should be str"),
        (Plan, b'{"steps": [], "extra": 1}', "extra"),
        (Plan, b"{}", "does not fit Plan"),
        (Plan, b'{"steps": [], "color": "green"}', "color"),
        (dict, b"[1]", "should be dict"),
        (int, b"true", "should be int"),
        (Model, b'{"tries": 1}', "does not fit Model"),
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
