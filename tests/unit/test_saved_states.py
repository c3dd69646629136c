"""States saved by lro 0.1's hand-written JSON codec still decode.

The files in ``saved_states/`` are the exact bytes that codec wrote for the values in
``SAVED`` (made once, with that code, and never rewritten).
"""

from __future__ import annotations

import dataclasses
import enum
import math
from pathlib import Path
from typing import Any, Literal

import pydantic
import pytest

import lro
from lro._core.codecs import codec_for

SAVED_STATES = Path(__file__).parent / "saved_states"


class Stage(enum.Enum):
    QUEUED = "queued"
    COPYING = "copying"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass
class Chunk:
    path: str
    rows: int = 0
    checksum: str | None = None


@dataclasses.dataclass
class Export:
    table: str
    chunks: list[Chunk]
    stage: Stage = Stage.QUEUED
    priority: Priority = Priority.LOW
    retries: int = 0
    progress: float = 0.0
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    scores: dict[str, float] = dataclasses.field(default_factory=dict)
    window: tuple[int, int] = (0, 0)
    tags: tuple[str, ...] = ()
    mode: Literal["full", "delta"] = "full"
    parent: Chunk | None = None
    done: bool = False


class Job(pydantic.BaseModel):
    name: str
    tries: int = 0
    owners: list[str] = []


EXPORT = Export(
    table="users",
    chunks=[Chunk("gs://b/0", 10, "abc"), Chunk("gs://b/1")],
    stage=Stage.COPYING,
    priority=Priority.HIGH,
    retries=2,
    progress=37.5,
    labels={"team": "data", "ünïcode": "ß"},
    scores={"a": 1.0, "b": math.inf, "c": -2.5},
    window=(3, 9),
    tags=("x", "y"),
    mode="delta",
    parent=Chunk("gs://b/root"),
    done=False,
)

# file name -> (state_type, the value that was saved)
SAVED: dict[str, tuple[Any, Any]] = {
    "export.json": (Export, EXPORT),
    "export_defaults.json": (Export, Export(table="t", chunks=[])),
    "chunk_list.json": (list[Chunk], [Chunk("p", 1), Chunk("q", 2, None)]),
    "counts.json": (dict[str, int], {"rows": 42, "files": 0}),
    "plain_dict.json": (dict, {"rows": 42, "nested": {"a": [1, 2.5, None, True, "ß"]}}),
    "untyped.json": (None, {"k": [1, "two", {"three": 3.0}], "empty": {}}),
    "floats.json": (list[float], [1.0, 2.5, -0.0, 1e300]),
    "floats_saved_as_ints.json": (list[float], [1, 2.5]),
    "export_int_progress.json": (Export, Export(table="t", chunks=[], progress=37)),
    "optional_int.json": (int | None, None),
    "int.json": (int, 7),
    "text.json": (str, 'héllo "quoted"\n'),
    "stage.json": (Stage, Stage.COPYING),
    "job.json": (Job, Job(name="n", tries=3, owners=["a", "b"])),
}


@pytest.mark.parametrize("file_name", sorted(SAVED))
def test_states_saved_by_the_first_codec_decode_to_the_same_value(file_name: str) -> None:
    state_type, value = SAVED[file_name]
    saved = (SAVED_STATES / file_name).read_bytes()
    decoded = codec_for(state_type).decode(saved)
    assert decoded == value
    assert type(decoded) is type(value)


def test_every_saved_file_is_checked() -> None:
    assert sorted(path.name for path in SAVED_STATES.iterdir()) == sorted(SAVED)


def test_a_saved_state_that_no_longer_fits_is_invalid() -> None:
    saved = (SAVED_STATES / "export.json").read_bytes()
    with pytest.raises(lro.InvalidState):
        codec_for(Chunk).decode(saved)  # fields Chunk lacks
    with pytest.raises(lro.InvalidState):
        codec_for(list[Chunk]).decode(saved)
