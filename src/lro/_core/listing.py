"""Listing operations (AIP-158): collections, page sizes and signed page tokens.

A page token carries the keyset position after which the next page starts (the last
operation's create time and name) and a fingerprint of the query (collection and
filter), signed with HMAC-SHA256. A token that was edited, forged, signed with another
key, or reused with another collection or filter is refused with InvalidPageToken.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json

from lro._core.errors import InvalidArgument, InvalidOperationName, InvalidPageToken
from lro._core.filters import Expression
from lro._core.names import COLLECTION, validate_parent

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_TOKEN_LENGTH = 4096
_TOKEN_VERSION = 1


@dataclasses.dataclass(frozen=True, slots=True)
class PageCursor:
    """The keyset position of the last operation of a page."""

    create_time_us: int
    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class ListQuery:
    """One page to read: operations of ``collection`` matching ``filter``, after ``after``,
    ordered by (create time, name), at most ``limit`` of them."""

    collection: str
    filter: Expression | None
    after: PageCursor | None
    limit: int


def keyset_parameters(query: ListQuery) -> dict[str, object]:
    """The query parameters of a keyset page: collection, position after, limit."""
    after = query.after
    return {
        "collection": query.collection,
        "after_time_us": after.create_time_us if after else -1,
        "after_name": after.name if after else "",
        "limit": query.limit,
    }


def page_size(requested: int) -> int:
    """AIP-158: 0 gives the default (50), above 1000 gives 1000, negative is invalid."""
    if requested < 0:
        raise InvalidArgument(f"page_size must not be negative, got {requested}")
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    return min(requested, MAX_PAGE_SIZE)


def collection_to_list(name: str) -> str:
    """The collection that a ListOperations ``name`` asks for.

    ``""`` and ``"operations"`` are the top-level collection; ``"{parent}/operations"``
    and ``"{parent}"`` are the operations created under ``parent``.
    """
    if name in ("", COLLECTION):
        return COLLECTION
    parent = name.removesuffix(f"/{COLLECTION}")
    try:
        validate_parent(parent)
    except InvalidOperationName:
        raise InvalidArgument(
            f"invalid collection {name[:200]!r}: expected 'operations', "
            "'{parent}/operations' or '{parent}', with segments like 'projects/p'"
        ) from None
    return f"{parent}/{COLLECTION}"


def query_fingerprint(collection: str, filter_text: str) -> str:
    """A short digest binding a token to its collection and filter."""
    digest = hashlib.sha256(f"{collection}\n{filter_text}".encode()).digest()
    return _b64(digest[:16])


def sign_page_token(cursor: PageCursor, fingerprint: str, key: bytes) -> str:
    """An opaque token for the page after ``cursor`` of the query ``fingerprint``."""
    payload = json.dumps(
        [_TOKEN_VERSION, fingerprint, cursor.create_time_us, cursor.name],
        separators=(",", ":"),
    ).encode()
    return f"{_b64(payload)}.{_b64(_mac(key, payload))}"


def verify_page_token(token: str, fingerprint: str, key: bytes) -> PageCursor:
    """The cursor in ``token``; InvalidPageToken unless it is ours and for this query."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise InvalidPageToken("the page token is malformed")
    encoded_payload, encoded_mac = token.split(".")
    try:
        payload = _unb64(encoded_payload)
        mac = _unb64(encoded_mac)
    except (binascii.Error, ValueError):
        raise InvalidPageToken("the page token is malformed") from None
    if not hmac.compare_digest(mac, _mac(key, payload)):
        raise InvalidPageToken("the page token was not issued by this service")
    try:
        version, token_fingerprint, create_time_us, name = json.loads(payload)
        cursor = PageCursor(create_time_us=int(create_time_us), name=str(name))
    except (ValueError, TypeError):  # signed by us, so only after a format change
        raise InvalidPageToken("the page token is from another version") from None
    if version != _TOKEN_VERSION or token_fingerprint != fingerprint:
        raise InvalidPageToken(
            "the page token belongs to another query; keep the same name and filter"
        )
    return cursor


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, b"lro.page_token\n" + payload, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
