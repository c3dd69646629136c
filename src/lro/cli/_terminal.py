"""What the ``lro`` command shows on a terminal: a live status line for ``lro wait``, a
table for ``lro list``, and the periodic summary of ``lro worker``.

Plain ANSI (a carriage return and "erase to the end of the line"), no dependency: a
single line and an aligned table need nothing more, and the command starts as fast as
without them. Piped output gets plain lines, never escape codes.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

import google.longrunning.operations_proto_pb2 as operations_pb2

from lro._client import Client
from lro._core.operation_json import operation_json
from lro._store.base import OperationRecord
from lro.serving._dashboard.views import (
    PROGRESS_FIELDS,
    code_name,
    progress_of,
    status_of,
    summary,
)

ERASE_LINE = "\r\x1b[K"
BAR_WIDTH = 20
# How often the live line redraws (its elapsed time) and how often, when piped, lro
# looks for a change to print.
REDRAW_EVERY = 0.25
MARKS = {"done": "✓", "failed": "✗", "cancelled": "✗", "running": "…"}
TABLE_COLUMNS = ("NAME", "STATUS", "CODE", "CREATED", "UPDATED", "METADATA", "PROGRESS")


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (not a pipe or a file)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def progress_bar(percent: float, width: int = BAR_WIDTH) -> str:
    """``[#####-----]`` style bar of ``percent`` (0..100) in ``width`` cells."""
    filled = round(width * percent / 100)
    return "[" + "█" * filled + "░" * (width - filled) + f"] {percent:3.0f}%"


def metadata_text(operation: operations_pb2.Operation) -> str:
    """The metadata as ``key=value`` pairs, without its ``@type`` and the progress (which
    the bar shows); values that are not text in compact JSON."""
    rendered = operation_json(operation).get("metadata")
    if not isinstance(rendered, dict):
        return ""
    fields = {key: value for key, value in rendered.items() if key != "@type"}
    if set(fields) == {"value"} and isinstance(fields["value"], dict):
        fields = fields["value"]  # a well-known type such as a Struct
    pairs = []
    for key, value in sorted(fields.items()):
        if key in PROGRESS_FIELDS:
            continue
        shown = int(value) if isinstance(value, float) and value.is_integer() else value
        text = shown if isinstance(shown, str) else json.dumps(shown, separators=(",", ":"))
        pairs.append(f"{key}={text}")
    return " ".join(pairs)


def status_line(operation: operations_pb2.Operation, elapsed: float, *, bar: bool) -> str:
    """One line: elapsed time, status, progress (a bar when ``bar``) and metadata."""
    status = status_of(operation)
    parts = [f"{elapsed:6.1f}s", status]
    if operation.done and operation.HasField("error"):
        parts.append(f"{code_name(operation)}: {operation.error.message}")
    percent = progress_of(operation_json(operation).get("metadata"))
    if percent is not None:
        parts.append(progress_bar(percent) if bar else f"{percent:.0f}%")
    metadata = metadata_text(operation)
    if metadata:
        parts.append(metadata)
    return " ".join(parts)


def fit(line: str, width: int) -> str:
    """``line`` cut to ``width`` characters, with an ellipsis when cut."""
    return line if len(line) <= width else line[: max(width - 1, 0)] + "…"


def watch_wait(
    client: Client, name: str, timeout: float | None, out: TextIO = sys.stderr
) -> operations_pb2.Operation:
    """Wait for operation ``name``, showing its progress on ``out``; returns it once
    done, or its latest state when ``timeout`` passes.

    On a terminal one line is redrawn in place; elsewhere a plain line is written each
    time the operation changes.
    """
    live = is_terminal(out)
    started = time.monotonic()
    deadline = float("inf") if timeout is None else started + timeout
    shown = ""
    while True:
        remaining = deadline - time.monotonic()
        step = max(min(REDRAW_EVERY, remaining), 0.0)
        operation = client.wait_operation(name, timeout=step)
        elapsed = time.monotonic() - started
        finished = operation.done or time.monotonic() >= deadline
        if live:
            width = shutil.get_terminal_size().columns - 1
            mark = MARKS[status_of(operation)] + " " if finished else ""
            out.write(ERASE_LINE + fit(mark + status_line(operation, elapsed, bar=True), width))
            out.write("\n" if finished else "")
        else:
            line = status_line(operation, elapsed, bar=False)
            changed = line.split(" ", 1)[1]  # without the time
            if changed != shown or finished:
                out.write(line + "\n")
                shown = changed
        out.flush()
        if finished:
            return operation


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """``rows`` as lines of columns padded to their widest cell."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def list_table(records: Sequence[OperationRecord]) -> list[str]:
    """The lines of ``lro list`` on a terminal: a header and one row per operation."""
    rows: list[Sequence[str]] = [TABLE_COLUMNS]
    for record in records:
        row: dict[str, Any] = summary(record.operation, record)
        progress = row["progress"]
        rows.append(
            (
                row["name"],
                row["status"],
                row["code"],
                _short_time(row["createTime"]),
                _short_time(row["updateTime"]),
                row["metadataType"],
                "" if progress is None else f"{progress:.0f}%",
            )
        )
    return table(rows)


def _short_time(text: str | None) -> str:
    """``2025-01-02T03:04:05.678Z`` as ``2025-01-02 03:04:05Z`` (UTC)."""
    return (text or "")[:19].replace("T", " ") + "Z" if text else ""
