"""AIP-160 filters over operations: parsed to a tree, compiled to parameterized SQL.

Fields: ``done``, ``error.code`` (a number or a code name such as ``CANCELLED``;
0 for an operation without error), ``metadata.@type`` (also ``metadata.type_url``,
``metadata_type``), ``create_time`` and ``update_time`` (quoted RFC 3339), and ``name``
(``name = "operations/ab*"`` matches a prefix). Operators ``= != < <= > >=``,
``AND``, ``OR``, ``NOT`` (or ``-``), parentheses; as in AIP-160, ``OR`` binds tighter
than ``AND``, and terms side by side are joined by ``AND``.

The compiler never puts a value into SQL text: each value becomes a named parameter,
in the placeholder style and over the column expressions a backend gives.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Callable, Mapping
from typing import Final

import google.rpc.code_pb2 as code_pb2

from lro._core.errors import InvalidArgument

MAX_FILTER_LENGTH = 2000
MAX_DEPTH = 32
MAX_COMPARISONS = 100
COMPARATORS: Final = ("<=", ">=", "!=", "=", "<", ">", ":")
_KEYWORDS = ("AND", "OR", "NOT")
_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<comparator><=|>=|!=|=|<|>|:)
      | (?P<paren>[()])
      | (?P<word>[^\s()"'<>=!:]+)""",
    re.VERBOSE | re.DOTALL,
)


class InvalidFilter(InvalidArgument):
    """The filter is not valid AIP-160 over the fields of an operation."""


@dataclasses.dataclass(frozen=True, slots=True)
class Comparison:
    """``field operator value``, with the value already converted for its field."""

    field: str
    operator: str
    value: bool | int | str


@dataclasses.dataclass(frozen=True, slots=True)
class AllOf:
    """Every part holds (AND)."""

    parts: tuple[Expression, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class AnyOf:
    """Some part holds (OR)."""

    parts: tuple[Expression, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Not:
    """The part does not hold."""

    part: Expression


Expression = Comparison | AllOf | AnyOf | Not


@dataclasses.dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    column: int


def _fail(column: int, message: str) -> InvalidFilter:
    return InvalidFilter(f"invalid filter at column {column}: {message}")


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _fail(position + 1, f"unexpected character {text[position]!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position + 1))
        position = match.end()
    return tokens


# --- values -----------------------------------------------------------------------


def _unquoted(token: _Token) -> str:
    if token.kind != "string":
        return token.text
    body = token.text[1:-1]
    return re.sub(r"\\(.)", r"\1", body, flags=re.DOTALL)


def _boolean(token: _Token) -> bool:
    text = _unquoted(token).lower()
    if text not in ("true", "false"):
        raise _fail(token.column, f"expected true or false, got {token.text!r}")
    return text == "true"


def _error_code(token: _Token) -> int:
    text = _unquoted(token)
    if re.fullmatch(r"-?\d{1,9}", text):
        return int(text)
    try:
        return int(code_pb2.Code.Value(text.upper()))
    except ValueError:
        raise _fail(
            token.column, f"expected a number or a google.rpc.Code name, got {token.text!r}"
        ) from None


def _timestamp_us(token: _Token) -> int:
    text = _unquoted(token)
    if token.kind != "string":
        raise _fail(token.column, f'quote timestamps, as in "2024-01-31T12:00:00Z"; got {text!r}')
    if not re.fullmatch(
        r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d{1,9})?([Zz]|[+-]\d\d:\d\d)", text
    ):
        raise _fail(token.column, f"expected an RFC 3339 timestamp, got {text!r}")
    fraction = re.search(r"\.(\d+)", text)
    whole = re.sub(r"\.\d+", "", text).upper().replace("Z", "+00:00")
    try:
        moment = datetime.datetime.fromisoformat(whole)
    except ValueError:
        raise _fail(token.column, f"no such time: {text!r}") from None
    micros = int((fraction.group(1) + "000000")[:6]) if fraction else 0
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    return (moment - epoch) // datetime.timedelta(microseconds=1) + micros


def _type_name(token: _Token) -> str:
    return _unquoted(token).rsplit("/", 1)[-1]


def _text(token: _Token) -> str:
    return _unquoted(token)


@dataclasses.dataclass(frozen=True, slots=True)
class _Field:
    name: str
    operators: tuple[str, ...]
    value: Callable[[_Token], bool | int | str]


_ORDERED = ("=", "!=", "<", "<=", ">", ">=")
_FIELDS = {
    "done": _Field("done", ("=", "!="), _boolean),
    "error.code": _Field("error.code", _ORDERED, _error_code),
    "metadata.@type": _Field("metadata_type", ("=", "!="), _type_name),
    "metadata.type_url": _Field("metadata_type", ("=", "!="), _type_name),
    "metadata_type": _Field("metadata_type", ("=", "!="), _type_name),
    "create_time": _Field("create_time", _ORDERED, _timestamp_us),
    "update_time": _Field("update_time", _ORDERED, _timestamp_us),
    "name": _Field("name", _ORDERED, _text),
}
FIELDS: Final = tuple(_FIELDS)


# --- parser -----------------------------------------------------------------------


class _Parser:
    """Recursive descent over AIP-160's grammar, depth and size bounded."""

    def __init__(self, tokens: list[_Token], length: int) -> None:
        self.tokens = tokens
        self.index = 0
        self.end_column = length + 1
        self.comparisons = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise _fail(self.end_column, "unexpected end of filter")
        self.index += 1
        return token

    def is_keyword(self, keyword: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.text == keyword

    def expression(self, depth: int) -> Expression:
        if depth > MAX_DEPTH:
            raise _fail(self.take().column, f"nested deeper than {MAX_DEPTH}")
        parts = [self.sequence(depth)]
        while self.is_keyword("AND"):
            self.take()
            parts.append(self.sequence(depth))
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def sequence(self, depth: int) -> Expression:
        parts = [self.factor(depth)]
        while (token := self.peek()) is not None and not (
            (token.kind == "paren" and token.text == ")") or self.is_keyword("AND")
        ):
            parts.append(self.factor(depth))
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def factor(self, depth: int) -> Expression:
        parts = [self.term(depth)]
        while self.is_keyword("OR"):
            self.take()
            parts.append(self.term(depth))
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    def term(self, depth: int) -> Expression:
        token = self.take()
        if token.kind == "word" and token.text == "NOT":
            return Not(self.simple(self.take(), depth))
        if token.kind == "word" and token.text.startswith("-") and len(token.text) > 1:
            field = _Token("word", token.text[1:], token.column + 1)
            return Not(self.simple(field, depth))
        if token.kind == "word" and token.text == "-":
            return Not(self.simple(self.take(), depth))
        return self.simple(token, depth)

    def simple(self, token: _Token, depth: int) -> Expression:
        if token.kind == "paren" and token.text == "(":
            inner = self.expression(depth + 1)
            closing = self.take()
            if closing.text != ")":
                raise _fail(closing.column, f"expected ')', got {closing.text!r}")
            return inner
        return self.comparison(token)

    def comparison(self, token: _Token) -> Comparison:
        if token.kind != "word" or token.text in _KEYWORDS:
            raise _fail(token.column, f"expected a field name, got {token.text!r}")
        field = _FIELDS.get(token.text)
        if field is None:
            known = ", ".join(FIELDS)
            raise _fail(token.column, f"unknown field {token.text!r}; known: {known}")
        operator = self.take()
        if operator.kind != "comparator":
            raise _fail(operator.column, f"expected a comparison after {token.text!r}")
        if operator.text not in field.operators:
            allowed = " ".join(field.operators)
            raise _fail(operator.column, f"{token.text} allows only {allowed}")
        value = self.take()
        if value.kind not in ("word", "string") or value.text in _KEYWORDS:
            raise _fail(value.column, f"expected a value, got {value.text!r}")
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise _fail(token.column, f"more than {MAX_COMPARISONS} comparisons")
        return _comparison(field, operator.text, value)


def _comparison(field: _Field, operator: str, value: _Token) -> Comparison:
    converted = field.value(value)
    if field.name == "name" and isinstance(converted, str) and converted.endswith("*"):
        if operator not in ("=", "!=") or "*" in converted[:-1]:
            raise _fail(value.column, "a name pattern may only end with '*', with = or !=")
        return Comparison(field.name, "prefix" if operator == "=" else "!prefix", converted[:-1])
    return Comparison(field.name, operator, converted)


def parse_filter(text: str) -> Expression | None:
    """The parsed ``text``, or None for an empty filter; InvalidFilter says where it failed."""
    if not isinstance(text, str):
        raise InvalidFilter(f"a filter must be a string, got {type(text).__name__}")
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilter(f"the filter is longer than {MAX_FILTER_LENGTH} characters")
    if "\x00" in text:  # no backend can compare it; PostgreSQL refuses it in text
        raise InvalidFilter("the filter must not contain a NUL byte")
    tokens = _tokens(text)
    if not tokens:
        return None
    parser = _Parser(tokens, len(text))
    expression = parser.expression(0)
    leftover = parser.peek()
    if leftover is not None:
        raise _fail(leftover.column, f"unexpected {leftover.text!r}")
    return expression


# --- compiler ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class SqlDialect:
    """How a backend spells parameters and where each field lives.

    Args:
        placeholder: format of a named parameter, such as ``":{}"`` (sqlite3) or
            ``"%({})s"`` (psycopg).
        columns: SQL expression of each field: ``done`` (compared with a bool),
            ``error.code`` (0 when there is no error), ``metadata_type``,
            ``create_time`` and ``update_time`` (microseconds since the epoch), ``name``.
        prefix_match: SQL true when column ``{column}`` starts with the text parameter
            ``{value}`` whose length is the integer parameter ``{length}``.
    """

    placeholder: str
    columns: Mapping[str, str]
    prefix_match: str = "substr({column}, 1, {length}) = {value}"


# The columns of lro's own operations table, the same on every SQL backend.
OPERATION_COLUMNS: Mapping[str, str] = {
    "done": "done",
    "error.code": "coalesce(error_code, 0)",
    "metadata_type": "metadata_type",
    "create_time": "create_time_us",
    "update_time": "update_time_us",
    "name": "name",
}


@dataclasses.dataclass(frozen=True, slots=True)
class CompiledFilter:
    """A SQL boolean expression and its named parameters (``f0``, ``f1``, ...)."""

    sql: str
    params: dict[str, object]


class _Compiler:
    def __init__(self, dialect: SqlDialect) -> None:
        self.dialect = dialect
        self.params: dict[str, object] = {}

    def parameter(self, value: object) -> str:
        key = f"f{len(self.params)}"
        self.params[key] = value
        return self.dialect.placeholder.format(key)

    def compile(self, expression: Expression) -> str:
        if isinstance(expression, AllOf | AnyOf):
            joiner = " AND " if isinstance(expression, AllOf) else " OR "
            return "(" + joiner.join(self.compile(part) for part in expression.parts) + ")"
        if isinstance(expression, Not):
            return f"(NOT {self.compile(expression.part)})"
        return self.comparison(expression)

    def comparison(self, comparison: Comparison) -> str:
        column = self.dialect.columns[comparison.field]
        if comparison.operator in ("prefix", "!prefix"):
            assert isinstance(comparison.value, str)
            match = self.dialect.prefix_match.format(
                column=column,
                length=self.parameter(len(comparison.value)),
                value=self.parameter(comparison.value),
            )
            return f"({match})" if comparison.operator == "prefix" else f"(NOT ({match}))"
        operator = "<>" if comparison.operator == "!=" else comparison.operator
        return f"({column} {operator} {self.parameter(comparison.value)})"


def compile_filter(expression: Expression | None, dialect: SqlDialect) -> CompiledFilter:
    """``expression`` as SQL over ``dialect``'s columns; None compiles to a true condition."""
    if expression is None:
        return CompiledFilter("(1 = 1)", {})
    compiler = _Compiler(dialect)
    return CompiledFilter(compiler.compile(expression), compiler.params)


_COMPARE: Final[dict[str, Callable[[object, object], bool]]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">": lambda a, b: a > b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
    "prefix": lambda a, b: str(a).startswith(str(b)),
    "!prefix": lambda a, b: not str(a).startswith(str(b)),
}


def matches(expression: Expression | None, values: Mapping[str, object]) -> bool:
    """Whether an operation whose fields are ``values`` passes ``expression``.

    The same meaning as the compiled SQL, for stores that cannot push a field down.
    """
    if expression is None:
        return True
    if isinstance(expression, AllOf):
        return all(matches(part, values) for part in expression.parts)
    if isinstance(expression, AnyOf):
        return any(matches(part, values) for part in expression.parts)
    if isinstance(expression, Not):
        return not matches(expression.part, values)
    return _COMPARE[expression.operator](values[expression.field], expression.value)


def fields_of(expression: Expression | None) -> set[str]:
    """The fields that ``expression`` compares."""
    if expression is None:
        return set()
    if isinstance(expression, AllOf | AnyOf):
        return set().union(*(fields_of(part) for part in expression.parts))
    if isinstance(expression, Not):
        return fields_of(expression.part)
    return {expression.field}
