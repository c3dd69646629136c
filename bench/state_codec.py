"""Encoding and decoding a typical operation state: lro's codec against the first one.

The state is a dataclass of 10 fields with a nested list of dataclasses, dicts, an enum,
an optional field and a datetime. The first codec (``bench/_first_codec.py``, lro 0.1's
hand-written one) cannot store a datetime, so its state keeps the time as an ISO string,
as a user had to. msgspec, the other library considered, is measured when installed
(``pip install msgspec``). Every codec is timed in the same run; the ratio is the first
codec's time over the other's (above 1: faster than the first codec).

    .venv/bin/python -m bench.state_codec [--repeat 7] [--number 2000]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import enum
import functools
import importlib
import importlib.util
import time
from collections.abc import Callable
from typing import Any

from bench._first_codec import JsonCodec
from lro._core.codecs import codec_for

NOW = datetime.datetime(2025, 6, 1, 12, 30, tzinfo=datetime.UTC)


class Stage(enum.Enum):
    LISTING = "listing"
    COPYING = "copying"


@dataclasses.dataclass
class Chunk:
    path: str
    rows: int = 0
    checksum: str | None = None


@dataclasses.dataclass
class ExportState:
    table: str
    stage: Stage
    started: datetime.datetime
    chunks: list[Chunk]
    rows_per_chunk: dict[str, int]
    labels: dict[str, str]
    retries: int = 0
    progress: float = 0.0
    error: str | None = None
    done: bool = False


@dataclasses.dataclass
class ExportStateWithoutDatetime:
    """The same state as the first codec can store it: the time as an ISO string."""

    table: str
    stage: Stage
    started: str
    chunks: list[Chunk]
    rows_per_chunk: dict[str, int]
    labels: dict[str, str]
    retries: int = 0
    progress: float = 0.0
    error: str | None = None
    done: bool = False


def _fields() -> dict[str, Any]:
    chunks = [Chunk(f"gs://bucket/export/{i:04}.csv", 1000 + i, f"{i:08x}") for i in range(8)]
    return {
        "table": "customers",
        "stage": Stage.COPYING,
        "chunks": chunks,
        "rows_per_chunk": {chunk.path: chunk.rows for chunk in chunks},
        "labels": {"team": "data", "env": "prod", "owner": "exports"},
        "retries": 1,
        "progress": 62.5,
    }


def _best_seconds(action: Callable[[], object], repeat: int, number: int) -> float:
    """The fastest of ``repeat`` runs of ``number`` calls, per call."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            action()
        best = min(best, time.perf_counter() - start)
    return best / number


def _codecs() -> list[tuple[str, Any, Any]]:
    """(label, codec with encode/decode, value) for every codec measured."""
    fields = _fields()
    typed = ExportState(started=NOW, **fields)
    first = ExportStateWithoutDatetime(started=NOW.isoformat(), **fields)
    codecs: list[tuple[str, Any, Any]] = [
        ("first codec (hand-written), time as str", JsonCodec(ExportStateWithoutDatetime), first),
        ("lro codec (pydantic TypeAdapter), datetime", codec_for(ExportState), typed),
    ]
    if importlib.util.find_spec("msgspec") is not None:
        codecs.append(("msgspec, datetime", _MsgspecCodec(ExportState), typed))
    return codecs


class _MsgspecCodec:
    """msgspec's JSON with the type (it neither checks types on encode nor refuses
    unknown fields of a dataclass on decode)."""

    def __init__(self, state_type: type) -> None:
        msgspec = importlib.import_module("msgspec")  # optional: not a dependency of lro
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(state_type)

    def encode(self, value: object) -> bytes:
        return bytes(self._encoder.encode(value))

    def decode(self, data: bytes) -> object:
        return self._decoder.decode(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=2000)
    args = parser.parse_args()
    rows = []
    for label, codec, value in _codecs():
        data = codec.encode(value)
        assert codec.decode(data) == value, label
        encode = _best_seconds(functools.partial(codec.encode, value), args.repeat, args.number)
        decode = _best_seconds(functools.partial(codec.decode, data), args.repeat, args.number)
        rows.append((label, len(data), encode, decode))
    _, _, base_encode, base_decode = rows[0]
    print("| codec | bytes | encode µs | decode µs | encode ratio | decode ratio |")
    print("|---|---|---|---|---|---|")
    for label, size, encode, decode in rows:
        print(
            f"| {label} | {size} | {encode * 1e6:.1f} | {decode * 1e6:.1f} "
            f"| {base_encode / encode:.2f} | {base_decode / decode:.2f} |"
        )


if __name__ == "__main__":
    main()
