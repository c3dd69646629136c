from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import lro
from lro import InvalidOperationName
from lro._core.names import (
    MAX_ID_LENGTH,
    chosen_name,
    name_from_header,
    new_name,
    operation_id,
    validate_name,
    validate_request_id,
)

UUID = re.compile(r"operations/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")
SAFE_ID = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,40}", fullmatch=True)


def test_new_names_are_uuid4_and_unique() -> None:
    names = {new_name() for _ in range(100)}
    assert len(names) == 100
    assert all(UUID.fullmatch(name) for name in names)


def test_new_name_under_parent() -> None:
    name = new_name("projects/p/locations/l")
    assert name.startswith("projects/p/locations/l/operations/")
    assert validate_name(name) == name


@given(SAFE_ID)
def test_safe_ids_are_accepted(operation: str) -> None:
    assert validate_name(f"operations/{operation}") == f"operations/{operation}"
    assert validate_name(f"projects/p1/operations/{operation}")
    assert operation_id(f"operations/{operation}") == operation


@pytest.mark.parametrize(
    "name",
    [
        "",
        "operations",
        "operations/",
        "operations/a/b",
        "operation/abc",
        "/operations/abc",
        "projects//operations/abc",
        "operations/abc def",
        "operations/abc\n",
        "operations/../x",
        "operations/%2F",
        "operations/" + "a" * (MAX_ID_LENGTH + 1),
        "p/" * 600 + "operations/a",
        None,
        42,
    ],
)
def test_malformed_names_are_refused(name: object) -> None:
    with pytest.raises(InvalidOperationName) as caught:
        validate_name(name)
    assert caught.value.code == 3  # INVALID_ARGUMENT


@given(st.text(max_size=80))
def test_any_text_is_either_valid_or_invalid_operation_name(text: str) -> None:
    try:
        validated = validate_name(text)
    except InvalidOperationName:
        return
    assert validated == text
    assert "/operations/" in f"/{text}"


def test_header_takes_an_id_or_a_full_name() -> None:
    assert name_from_header("abc-1") == "operations/abc-1"
    assert name_from_header("projects/p/operations/x") == "projects/p/operations/x"
    with pytest.raises(InvalidOperationName):
        name_from_header("bad id")


def test_chosen_names_follow_aip_122() -> None:
    assert chosen_name("a") == "operations/a"
    assert chosen_name("a" * 63) == "operations/" + "a" * 63
    assert chosen_name("my-op-9", "projects/p") == "projects/p/operations/my-op-9"
    uuid_like = "a3c1e2f4-5b6d-4e7f-8a9b-0c1d2e3f4a5b"  # could be a name lro makes
    for bad in ("", "a" * 64, "9a", "-a", "a-", "A", "a_b", "a.b", "a/b", "é", None, 7, uuid_like):
        with pytest.raises(lro.InvalidArgument, match="AIP-122"):
            chosen_name(bad)
    with pytest.raises(lro.InvalidArgument):
        chosen_name("a", "projects//p")


def test_request_ids_are_non_empty_strings_of_at_most_256_characters() -> None:
    assert validate_request_id("x" * 256) == "x" * 256
    for bad in ("", "x" * 257, None, 5):
        with pytest.raises(lro.InvalidArgument, match="request id"):
            validate_request_id(bad)
