"""The pytest plugin of lro (entry point ``pytest11``): the fixture ``lro_env``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from lro.testing import Environment


@pytest.fixture
def lro_env() -> Iterator[Environment]:
    """An ``lro.testing.Environment`` for one test, closed (its store removed) after it."""
    from lro.testing import Environment  # imported when used, not when pytest starts

    with Environment() as env:
        yield env
