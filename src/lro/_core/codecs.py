"""Codecs for an operation's private state: JSON or protobuf binary, never pickle.

Typed JSON states (dataclasses, pydantic models, typing hints such as ``list[Step]``,
``datetime``, ``UUID``, ``Decimal``, enums, nested generics) are checked and converted
by pydantic's ``TypeAdapter``. A stored state is data only: it names no type and runs
no code; the type always comes from the program.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast, overload

from google.protobuf.message import DecodeError, Message

from lro._core.errors import InvalidState

if TYPE_CHECKING:
    import pydantic

T = TypeVar("T")
_MAX_REPORTED_ERRORS = 3


class StateCodec(Protocol[T]):
    """Turns a state value into bytes and back."""

    def encode(self, value: T) -> bytes: ...

    def decode(self, data: bytes) -> T: ...


@overload
def codec_for(state_type: None) -> StateCodec[Any]: ...


@overload
def codec_for(state_type: type[T]) -> StateCodec[T]: ...


def codec_for(state_type: type[T] | None) -> StateCodec[Any]:
    """The codec for ``state_type``: protobuf binary for a message, else JSON.

    Raises:
        InvalidState: ``state_type`` cannot be stored as JSON.
    """
    if state_type is None or state_type is object or state_type is Any:
        return AnyJsonCodec()
    if isinstance(state_type, type) and issubclass(state_type, Message):
        return ProtoCodec(state_type)
    try:
        return _typed_json_codec(cast(Hashable, state_type))
    except TypeError:  # an unhashable type form cannot be cached
        return TypedJsonCodec(state_type)


@functools.lru_cache(maxsize=256)
def _typed_json_codec(state_type: Any) -> TypedJsonCodec[Any]:
    """One codec per type: building a ``TypeAdapter`` costs far more than using one."""
    return TypedJsonCodec(state_type)


def _type_label(state_type: object) -> str:
    return getattr(state_type, "__qualname__", None) or repr(state_type)


class ProtoCodec(Generic[T]):
    """Protobuf binary for a message type."""

    def __init__(self, message_type: type[T]) -> None:
        self._type = message_type

    def encode(self, value: T) -> bytes:
        if not isinstance(value, self._type):
            raise InvalidState(
                f"state must be {_type_label(self._type)}, got {type(value).__name__}"
            )
        return cast(Message, value).SerializeToString(deterministic=True)

    def decode(self, data: bytes) -> T:
        try:
            message = cast(type[Message], self._type).FromString(data)
        except DecodeError as exc:
            raise InvalidState(f"stored state is not a {_type_label(self._type)}: {exc}") from exc
        return cast(T, message)


class AnyJsonCodec:
    """Any JSON value (None, bool, int, float, str, list, dict), unchecked."""

    def encode(self, value: object) -> bytes:
        try:
            return json.dumps(value, separators=(",", ":")).encode()
        except (TypeError, ValueError) as exc:
            raise InvalidState(f"state is not JSON serializable: {exc}") from exc

    def decode(self, data: bytes) -> Any:
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidState(f"stored state is not JSON: {exc}") from exc


class TypedJsonCodec(Generic[T]):
    """JSON checked against a type on both ways, through a pydantic ``TypeAdapter``.

    Stored states are read strictly (no ``"1"`` for ``1``) and a dataclass refuses
    fields it lacks, so a state that no longer fits its type is an error, never a
    silent default. A pydantic model is read with its own configuration.
    """

    def __init__(self, state_type: type[T]) -> None:
        import pydantic

        self._type = state_type
        self._instance_type = _instance_type(state_type)
        is_model = isinstance(state_type, type) and issubclass(state_type, pydantic.BaseModel)
        self._strict = None if is_model else True
        self._extra: Any = None if is_model else "forbid"
        unsupported = (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUndefinedAnnotation)
        try:
            self._adapter = pydantic.TypeAdapter(state_type)
        except unsupported as exc:
            raise InvalidState(f"type {_type_label(state_type)} cannot be stored as JSON") from exc

    def encode(self, value: T) -> bytes:
        import pydantic_core

        if self._instance_type is not None and not isinstance(value, self._instance_type):
            raise InvalidState(
                f"state must be {_type_label(self._type)}, got {type(value).__name__}"
            )
        try:
            plain = self._adapter.dump_python(value, warnings="error")
            # Infinity and NaN are written as JSON's usual constants, not as null.
            return pydantic_core.to_json(plain, inf_nan_mode="constants")
        except pydantic_core.PydanticSerializationError as exc:
            raise InvalidState(f"state does not fit {_type_label(self._type)}: {exc}") from exc

    def decode(self, data: bytes) -> T:
        import pydantic

        try:
            return self._adapter.validate_json(data, strict=self._strict, extra=self._extra)
        except pydantic.ValidationError as exc:
            raise InvalidState(
                f"stored state does not fit {_type_label(self._type)}: {_describe(exc)}"
            ) from exc


def _instance_type(state_type: object) -> type | None:
    """The class a value must be an instance of, for dataclasses and pydantic models."""
    if not isinstance(state_type, type):
        return None
    if dataclasses.is_dataclass(state_type) or hasattr(state_type, "model_fields"):
        return state_type
    return None


def _describe(error: pydantic.ValidationError) -> str:
    """The first few problems, as ``state.steps[0].label: message``, without links."""
    problems = []
    for problem in error.errors(include_url=False)[:_MAX_REPORTED_ERRORS]:
        path = "state" + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem["loc"]
        )
        problems.append(f"{path}: {problem['msg']}")
    more = error.error_count() - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")
