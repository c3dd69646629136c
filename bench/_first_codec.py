"""lro 0.1's hand-written JSON codec, kept unchanged as the baseline of bench.state_codec.

Copied from src/lro/_core/codecs.py at commit 3e08a0d (JsonCodec and its helpers only).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from typing import Any, Generic, TypeVar, cast

from lro._core.errors import InvalidState

T = TypeVar("T")
_JSON_SCALARS = (str, int, float, bool, type(None))


def _type_label(state_type: object) -> str:
    return getattr(state_type, "__qualname__", None) or repr(state_type)


class JsonCodec(Generic[T]):
    """JSON for plain values and dataclasses, checked against the type on both ways."""

    def __init__(self, state_type: type[T]) -> None:
        self._type = state_type

    def encode(self, value: T) -> bytes:
        if dataclasses.is_dataclass(self._type) and not isinstance(value, self._type):
            raise InvalidState(
                f"state must be {_type_label(self._type)}, got {type(value).__name__}"
            )
        raw = _to_json(value)
        _from_json(self._type, raw, "state")
        try:
            return json.dumps(raw, separators=(",", ":")).encode()
        except (TypeError, ValueError) as exc:
            raise InvalidState(f"state is not JSON serializable: {exc}") from exc

    def decode(self, data: bytes) -> T:
        try:
            raw = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidState(f"stored state is not JSON: {exc}") from exc
        return cast(T, _from_json(self._type, raw, "state"))


def _to_json(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: _to_json(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    return value


def _mismatch(path: str, expected: object, raw: object) -> InvalidState:
    return InvalidState(
        f"{path} should be {_type_label(expected)}, got {type(raw).__name__} {raw!r:.80}"
    )


def _from_json(tp: Any, raw: object, path: str) -> object:  # noqa: PLR0911
    """``raw`` (parsed JSON) as a value of type ``tp``, or InvalidState."""
    if tp is object or tp is Any:
        return raw
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass_from_json(tp, raw, path)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return _union_from_json(tp, args, raw, path)
    if origin is typing.Literal:
        if raw not in args:
            raise _mismatch(path, tp, raw)
        return raw
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple):
        return _sequence_from_json(origin or tp, args, raw, path)
    if origin is dict or tp is dict:
        return _dict_from_json(args, raw, path)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(raw)
        except ValueError as exc:
            raise _mismatch(path, tp, raw) from exc
    return _scalar_from_json(tp, raw, path)


def _scalar_from_json(tp: Any, raw: object, path: str) -> object:
    if tp is None or tp is type(None):
        tp = type(None)
    if tp is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    if tp is int and isinstance(raw, bool):
        raise _mismatch(path, tp, raw)
    if isinstance(tp, type) and tp in _JSON_SCALARS:
        if not isinstance(raw, tp):
            raise _mismatch(path, tp, raw)
        return raw
    raise InvalidState(f"{path}: type {_type_label(tp)} cannot be stored as JSON")


def _union_from_json(tp: Any, args: tuple[Any, ...], raw: object, path: str) -> object:
    for option in args:
        try:
            return _from_json(option, raw, path)
        except InvalidState:
            continue
    raise _mismatch(path, tp, raw)


def _sequence_from_json(container: Any, args: tuple[Any, ...], raw: object, path: str) -> object:
    if not isinstance(raw, list):
        raise _mismatch(path, container, raw)
    if container is tuple and args and args[-1] is not Ellipsis:
        if len(args) != len(raw):
            raise _mismatch(path, container, raw)
        return tuple(
            _from_json(a, r, f"{path}[{i}]") for i, (a, r) in enumerate(zip(args, raw, strict=True))
        )
    item_type = args[0] if args else object
    items = [_from_json(item_type, r, f"{path}[{i}]") for i, r in enumerate(raw)]
    return container(items) if container is not list else items


def _dict_from_json(args: tuple[Any, ...], raw: object, path: str) -> object:
    if not isinstance(raw, dict):
        raise _mismatch(path, dict, raw)
    value_type = args[1] if len(args) == 2 else object
    return {key: _from_json(value_type, item, f"{path}[{key!r}]") for key, item in raw.items()}


def _dataclass_from_json(tp: type, raw: object, path: str) -> object:
    if not isinstance(raw, dict):
        raise _mismatch(path, tp, raw)
    hints = typing.get_type_hints(tp)
    fields = {field.name: field for field in dataclasses.fields(tp) if field.init}
    unknown = set(raw) - set(fields)
    if unknown:
        raise InvalidState(f"{path} has fields {sorted(unknown)} that {tp.__qualname__} lacks")
    values = {
        name: _from_json(hints.get(name, object), raw[name], f"{path}.{name}")
        for name in fields
        if name in raw
    }
    try:
        return tp(**values)
    except TypeError as exc:
        raise InvalidState(f"{path} does not fit {tp.__qualname__}: {exc}") from exc
