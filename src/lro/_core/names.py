"""Operation names (AIP-151): ``operations/{id}`` or ``{parent}/operations/{id}``."""

from __future__ import annotations

import re
import uuid

from lro._core.errors import InvalidOperationName

COLLECTION = "operations"
MAX_NAME_LENGTH = 1024
MAX_ID_LENGTH = 128
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]*")


def new_name(parent: str = "") -> str:
    """A fresh operation name, ``operations/{uuid4}`` or under ``parent``."""
    if parent:
        validate_parent(parent)
        return f"{parent}/{COLLECTION}/{uuid.uuid4()}"
    return f"{COLLECTION}/{uuid.uuid4()}"


def validate_name(name: object) -> str:
    """Return ``name`` if it is a valid operation name, else raise InvalidOperationName."""
    if not isinstance(name, str):
        raise InvalidOperationName(repr(name), "a name must be a string")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidOperationName(name[:64] + "...", f"longer than {MAX_NAME_LENGTH}")
    segments = name.split("/")
    if len(segments) < 2 or segments[-2] != COLLECTION:
        raise InvalidOperationName(name)
    operation_id = segments[-1]
    if len(operation_id) > MAX_ID_LENGTH:
        raise InvalidOperationName(name, f"the id is longer than {MAX_ID_LENGTH}")
    for segment in [*segments[:-2], operation_id]:
        if not _SEGMENT.fullmatch(segment):
            raise InvalidOperationName(name, f"segment {segment!r} must match {_SEGMENT.pattern}")
    return name


def without_nul(name: str) -> str:
    """``name`` if it holds no NUL byte (no backend can look one up; PostgreSQL refuses
    it in text), else InvalidOperationName."""
    if "\x00" in name:
        raise InvalidOperationName(name[:200], "a name must not contain a NUL byte")
    return name


def validate_parent(parent: str) -> str:
    """Return ``parent`` if it is a valid parent resource name for operations."""
    segments = parent.split("/")
    if len(parent) > MAX_NAME_LENGTH - 64 or not all(_SEGMENT.fullmatch(s) for s in segments):
        raise InvalidOperationName(parent, "the parent must be segments like 'projects/p'")
    return parent


def name_from_header(value: str) -> str:
    """The operation name from an ``x-alis-operation-id`` value: an id or a full name."""
    return validate_name(value if "/" in value else f"{COLLECTION}/{value}")


def operation_id(name: str) -> str:
    """The last segment of an operation name."""
    return name.rsplit("/", 1)[-1]


def collection_of(name: str) -> str:
    """The collection an operation belongs to: its name without the last segment."""
    return name.rsplit("/", 1)[0]
