"""Registered handlers and development callbacks, on both faces: a durable wait
resumes the handler at its resume point with its state."""

from __future__ import annotations

from google.protobuf import wrappers_pb2

import lro
from tests.durable.conftest import eventually


def _text(client: lro.Client, name: str) -> str:
    final = client.wait_operation(name, timeout=30)
    assert final.done, final
    value = wrappers_pb2.StringValue()
    lro.unmarshal_operation(final, value)
    return value.value


def test_a_started_handler_waits_durably_for_children_and_resumes(client: lro.Client) -> None:
    children = [client.new_operation() for _ in range(2)]

    @client.resumable("parent", state_type=dict)
    def parent(op: lro.Operation[dict[str, int]]) -> None:
        if op.resume_point == "":
            op.state = {"children": len(children)}
            op.wait(children=[c.name for c in children], timeout=30, resume_at="after")
            return
        op.done(wrappers_pb2.StringValue(value=f"{op.state['children']}:{op.wait_timed_out}"))

    op = client.start("parent")
    assert eventually(lambda: client.store.get(op.name).resume_point == "after")
    assert not client.get_operation(op.name).done
    for child in children:
        child.done()
    assert _text(client, op.name) == "2:False"


def test_a_development_callback_resumes_after_a_durable_sleep(client: lro.Client) -> None:
    resumed: list[str] = []

    def callback(op: lro.Operation[dict[str, str]]) -> None:
        resumed.append(op.resume_point)
        op.done(wrappers_pb2.StringValue(value=f"{op.resume_point}:{op.state['k']}"))

    op = client.new_operation(state_type=dict, callback=callback)
    op.state = {"k": "v"}
    assert op.wait(sleep=0.05, resume_at="woken") == {}
    assert _text(client, op.name) == "woken:v"
    assert resumed == ["woken"]
