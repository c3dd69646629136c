"""mypy checks this file: Operation[MyState].state is MyState."""

from __future__ import annotations

import dataclasses
from typing import Any, assert_type

import lro


@dataclasses.dataclass
class MyState:
    count: int = 0


def test_state_is_typed(client: lro.Client) -> None:
    op = client.new_operation(state_type=MyState)
    assert_type(op, lro.Operation[MyState])
    assert_type(op.state, MyState)
    untyped = client.new_operation()
    assert_type(untyped, lro.Operation[Any])
    assert op.state == MyState()
