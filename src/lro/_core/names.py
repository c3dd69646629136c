"""Operation names (AIP-151): ``operations/{id}`` or ``{parent}/operations/{id}``."""

from __future__ import annotations

import re
import uuid

from lro._core.errors import InvalidArgument, InvalidOperationName

COLLECTION = "operations"
MAX_NAME_LENGTH = 1024
MAX_ID_LENGTH = 128
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]*")
# An id chosen by the caller (AIP-122): lowercase letters, digits and hyphens, starting
# with a letter, ending with a letter or digit, at most 63 characters (RFC 1034).
CHOSEN_ID = re.compile(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?")
# AIP-122: a chosen id must not look like a UUID, the form of the ids lro makes.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MAX_REQUEST_ID_LENGTH = 256


def new_name(parent: str = "") -> str:
    """A fresh operation name, ``operations/{uuid4}`` or under ``parent``."""
    if parent:
        validate_parent(parent)
        return f"{parent}/{COLLECTION}/{uuid.uuid4()}"
    return f"{COLLECTION}/{uuid.uuid4()}"


def chosen_name(operation_id: object, parent: str = "") -> str:
    """``operations/{operation_id}`` (under ``parent`` if given), for an id chosen by
    the caller; InvalidArgument unless it is an AIP-122 id (see ``CHOSEN_ID``) that
    does not look like a UUID."""
    if not isinstance(operation_id, str) or not CHOSEN_ID.fullmatch(operation_id):
        raise InvalidArgument(
            f"invalid operation id {operation_id!r}: an id has 1 to 63 lowercase letters, "
            "digits and hyphens, starts with a letter and ends with a letter or digit "
            "(AIP-122)"
        )
    if _UUID.fullmatch(operation_id):
        raise InvalidArgument(
            f"invalid operation id {operation_id!r}: an id of your choosing must not look "
            "like a UUID, the form of the ids lro makes (AIP-122)"
        )
    if parent:
        validate_parent(parent)
        return f"{parent}/{COLLECTION}/{operation_id}"
    return f"{COLLECTION}/{operation_id}"


def validate_request_id(request_id: object) -> str:
    """``request_id`` if it is a non-empty string of at most 256 characters (AIP-155)."""
    if not isinstance(request_id, str) or not request_id:
        raise InvalidArgument(f"a request id must be a non-empty string, got {request_id!r}")
    if len(request_id) > MAX_REQUEST_ID_LENGTH:
        raise InvalidArgument(f"a request id has at most {MAX_REQUEST_ID_LENGTH} characters")
    return request_id


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
