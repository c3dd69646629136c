"""What a process can resume: handlers registered by name, and dev-mode callbacks."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class Resumable:
    """A function that runs (and resumes) operations, with the type of their state."""

    function: Callable[[Any], object]
    state_type: type[Any] | None = None
