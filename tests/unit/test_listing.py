"""Page sizes, collections and signed page tokens (AIP-158)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lro
from lro._core.listing import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    PageCursor,
    _mac,
    collection_to_list,
    page_size,
    query_fingerprint,
    sign_page_token,
    verify_page_token,
)

KEY = b"k" * 32
CURSOR = PageCursor(create_time_us=1_700_000_000_000_000, name="operations/abc")


def test_page_sizes() -> None:
    assert page_size(0) == DEFAULT_PAGE_SIZE == 50
    assert page_size(7) == 7
    assert page_size(MAX_PAGE_SIZE) == page_size(MAX_PAGE_SIZE + 1) == page_size(10**9) == 1000
    with pytest.raises(lro.InvalidArgument, match="negative"):
        page_size(-1)


@pytest.mark.parametrize(
    ("name", "collection"),
    [
        ("", "operations"),
        ("operations", "operations"),
        ("projects/p", "projects/p/operations"),
        ("projects/p/locations/l/operations", "projects/p/locations/l/operations"),
    ],
)
def test_collections(name: str, collection: str) -> None:
    assert collection_to_list(name) == collection


@pytest.mark.parametrize("name", ["/", "projects//p", "projects/p/", "a b", "projects/p?x"])
def test_bad_collections(name: str) -> None:
    with pytest.raises(lro.InvalidArgument, match="invalid collection"):
        collection_to_list(name)


def test_token_round_trip_and_binding() -> None:
    fingerprint = query_fingerprint("operations", "done = true")
    token = sign_page_token(CURSOR, fingerprint, KEY)
    assert verify_page_token(token, fingerprint, KEY) == CURSOR
    with pytest.raises(lro.InvalidPageToken, match="another query"):
        verify_page_token(token, query_fingerprint("operations", "done = false"), KEY)
    with pytest.raises(lro.InvalidPageToken, match="another query"):
        verify_page_token(token, query_fingerprint("projects/p/operations", "done = true"), KEY)
    with pytest.raises(lro.InvalidPageToken, match="not issued by this service"):
        verify_page_token(token, fingerprint, b"another key")


def test_an_edited_payload_is_refused() -> None:
    fingerprint = query_fingerprint("operations", "")
    payload, mac = sign_page_token(CURSOR, fingerprint, KEY).split(".")
    decoded = base64.urlsafe_b64decode(payload + "==")
    edited = decoded.replace(b"operations/abc", b"operations/xyz")
    forged = base64.urlsafe_b64encode(edited).rstrip(b"=").decode() + "." + mac
    with pytest.raises(lro.InvalidPageToken, match="not issued"):
        verify_page_token(forged, fingerprint, KEY)


@settings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=0), replacement=st.characters(codec="ascii"))
def test_any_one_character_change_is_refused(position: int, replacement: str) -> None:
    fingerprint = query_fingerprint("operations", "")
    token = sign_page_token(CURSOR, fingerprint, KEY)
    index = position % len(token)
    edited = token[:index] + replacement + token[index + 1 :]
    if edited == token:
        return
    try:
        cursor = verify_page_token(edited, fingerprint, KEY)
    except lro.InvalidPageToken:
        return
    # Base64 padding bits can change without changing the bytes; the meaning stays.
    assert cursor == CURSOR


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_tokens_are_refused(token: str) -> None:
    with pytest.raises(lro.InvalidPageToken):
        verify_page_token(token, query_fingerprint("operations", ""), KEY)


def test_a_signed_token_of_another_format_is_refused() -> None:
    fingerprint = query_fingerprint("operations", "")
    good = sign_page_token(CURSOR, fingerprint, KEY)
    for payload in (b"[1, 2]", b"{}", b'[2, "x", 1, "n"]'):
        encoded = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
        mac = _mac(KEY, payload)
        token = encoded + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
        assert token != good
        with pytest.raises(lro.InvalidPageToken):
            verify_page_token(token, fingerprint, KEY)
