"""AIP-160 filters: parsing, errors that say where, and SQL that holds no values."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lro
from lro._core.filters import (
    AllOf,
    AnyOf,
    Comparison,
    Not,
    SqlDialect,
    compile_filter,
    parse_filter,
)

JAN_2024_US = 1_704_067_200_000_000
DIALECT = SqlDialect(
    placeholder=":{}",
    columns={
        "done": "done",
        "error.code": "coalesce(error_code, 0)",
        "metadata_type": "metadata_type",
        "create_time": "create_time_us",
        "update_time": "update_time_us",
        "name": "name",
    },
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("   ", None),
        ("done = true", Comparison("done", "=", True)),
        ("done != FALSE", Comparison("done", "!=", False)),
        ("error.code = CANCELLED", Comparison("error.code", "=", 1)),
        ('error.code >= "5"', Comparison("error.code", ">=", 5)),
        ('metadata.@type = "type.googleapis.com/a.B"', Comparison("metadata_type", "=", "a.B")),
        ("metadata_type != a.B", Comparison("metadata_type", "!=", "a.B")),
        ('create_time > "2024-01-01T00:00:00Z"', Comparison("create_time", ">", JAN_2024_US)),
        (
            'update_time <= "2024-01-01T01:00:00.5+01:00"',
            Comparison("update_time", "<=", JAN_2024_US + 500_000),
        ),
        ('name = "operations/ab*"', Comparison("name", "prefix", "operations/ab")),
        ('name != "operations/ab*"', Comparison("name", "!prefix", "operations/ab")),
        ('name = "a \\"quoted\\" name"', Comparison("name", "=", 'a "quoted" name')),
        ("NOT done = true", Not(Comparison("done", "=", True))),
        ("-done = true", Not(Comparison("done", "=", True))),
    ],
)
def test_parses(text: str, expected: object) -> None:
    assert parse_filter(text) == expected


def test_or_binds_tighter_than_and_and_juxtaposition_is_and() -> None:
    done, failed = Comparison("done", "=", True), Comparison("error.code", "=", 5)
    cancelled = Comparison("error.code", "=", 1)
    assert parse_filter("done = true AND error.code = 5 OR error.code = 1") == AllOf(
        (done, AnyOf((failed, cancelled)))
    )
    assert parse_filter("done = true error.code = 5") == AllOf((done, failed))
    assert parse_filter("(done = true AND error.code = 5) OR error.code = 1") == AnyOf(
        (AllOf((done, failed)), cancelled)
    )


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("done =", 7, "end of filter"),
        ("done = maybe", 8, "true or false"),
        ("colour = red", 1, "unknown field"),
        ("done < true", 6, "allows only"),
        ("done true", 6, "expected a comparison"),
        ("(done = true", 13, "end of filter"),
        ("done = true)", 12, "unexpected ')'"),
        ("create_time > 2024", 15, "quote timestamps"),
        ('create_time > "yesterday"', 15, "RFC 3339"),
        ('create_time > "2024-02-30T00:00:00Z"', 15, "no such time"),
        ("error.code = SOMETIMES", 14, "google.rpc.Code"),
        ('name = "a*b*"', 8, "may only end with"),
        ('name < "a*"', 8, "may only end with"),
        ("done = true AND", 16, "end of filter"),
        ("done = AND", 8, "expected a value"),
        ("done = 'unterminated", 8, "unexpected character"),
        ("done ! true", 6, "unexpected character"),
    ],
)
def test_errors_say_where(text: str, column: int, words: str) -> None:
    with pytest.raises(lro.InvalidFilter) as caught:
        parse_filter(text)
    assert f"column {column}:" in caught.value.message
    assert words in caught.value.message
    assert caught.value.code == 3  # INVALID_ARGUMENT


def test_limits() -> None:
    with pytest.raises(lro.InvalidFilter, match="longer than"):
        parse_filter("done = true " * 300)
    with pytest.raises(lro.InvalidFilter, match="nested deeper"):
        parse_filter("(" * 40 + "done = true" + ")" * 40)
    with pytest.raises(lro.InvalidFilter, match="more than 100"):
        parse_filter(" OR ".join(["done = true"] * 101))
    with pytest.raises(lro.InvalidFilter, match="must be a string"):
        parse_filter(5)  # type: ignore[arg-type]


def test_compiles_to_parameters_only() -> None:
    compiled = compile_filter(
        parse_filter('done = true AND (name = "operations/x*" OR NOT error.code = 5)'), DIALECT
    )
    assert compiled.sql == (
        "((done = :f0) AND ((substr(name, 1, :f1) = :f2) OR (NOT (coalesce(error_code, 0) = :f3))))"
    )
    assert compiled.params == {"f0": True, "f1": 12, "f2": "operations/x", "f3": 5}
    assert compile_filter(None, DIALECT).sql == "(1 = 1)"
    psycopg_style = SqlDialect(placeholder="%({})s", columns=DIALECT.columns)
    assert compile_filter(parse_filter("done = false"), psycopg_style).sql == "(done = %(f0)s)"


SAFE_TEXT = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="*\x00"), max_size=30
)


@pytest.mark.parametrize("text", ['name = "a\x00"', "done = true\x00", "\x00"])
def test_a_nul_byte_is_refused_before_any_backend(text: str) -> None:
    with pytest.raises(lro.InvalidFilter, match="NUL"):
        parse_filter(text)


@settings(max_examples=150, deadline=None)
@given(value=SAFE_TEXT, field=st.sampled_from(["name", "metadata.@type"]))
def test_values_never_reach_the_sql_text(value: str, field: str) -> None:
    quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    compiled = compile_filter(parse_filter(f"{field} != {quoted}"), DIALECT)
    column = DIALECT.columns["name" if field == "name" else "metadata_type"]
    assert compiled.sql == f"({column} <> :f0)"
    stored = value if field == "name" else value.rsplit("/", 1)[-1]
    assert compiled.params == {"f0": stored}
    connection = sqlite3.connect(":memory:")
    connection.execute(
        "CREATE TABLE t (done, error_code, metadata_type, create_time_us, update_time_us, name)"
    )
    connection.execute("INSERT INTO t VALUES (0, NULL, ?, 0, 0, ?)", (value, value))
    rows = connection.execute(f"SELECT count(*) FROM t WHERE {compiled.sql}", compiled.params)
    expected = 0 if (field == "name" or "/" not in value) else 1
    assert rows.fetchone()[0] == expected
