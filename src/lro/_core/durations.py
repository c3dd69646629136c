"""Durations: seconds as float, or a ``datetime.timedelta``."""

from __future__ import annotations

import datetime
import math

from lro._core.errors import InvalidArgument

Duration = float | int | datetime.timedelta


def seconds(value: Duration, what: str = "duration") -> float:
    """``value`` in seconds; negative, NaN and infinite values are refused."""
    if isinstance(value, datetime.timedelta):
        result = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = float(value)
    else:
        raise InvalidArgument(f"{what} must be seconds or a timedelta, got {value!r}")
    if not math.isfinite(result) or result < 0:
        raise InvalidArgument(f"{what} must be a finite number >= 0, got {value!r}")
    return result
