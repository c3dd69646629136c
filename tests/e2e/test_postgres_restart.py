"""PostgreSQL restarts in the middle of a run: calls fail clearly, work goes on after.

That a wait reads through the outage, and fails only at its timeout, is shown in
``test_outages.py``, on every backend and every way of waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from google.protobuf import wrappers_pb2
from google.rpc import code_pb2

import lro
from tests.postgres_server import PrivateServer, running_private_server


@pytest.fixture
def server() -> Iterator[PrivateServer]:
    """A private, running PostgreSQL server."""
    with running_private_server() as private:
        yield private


def test_operations_in_flight_survive_a_restart(server: PrivateServer) -> None:
    with lro.Client(server.url) as worker, lro.Client(server.url) as caller:
        parent = worker.new_operation(state_type=dict)
        child = worker.new_operation()
        kept = [worker.new_operation().name for _ in range(5)]
        waiting = threading.Event()
        failures: list[BaseException] = []

        def handler() -> None:
            try:
                parent.state = {"step": "waiting"}
                waiting.set()
                # Only notifications can end this wait early: polls are a minute apart.
                finished = parent.wait(children=[child.name], timeout=60, poll_frequency=60)
                assert finished[child.name].done
                parent.state = {"step": "done"}
                parent.done(wrappers_pb2.StringValue(value="after the restart"))
            except BaseException as exc:  # reported by the test below
                failures.append(exc)

        thread = threading.Thread(target=handler)
        thread.start()
        assert waiting.wait(10)

        server.stop()
        with pytest.raises(lro.Unavailable) as caught:
            caller.get_operation(parent.name)
        assert caught.value.code == code_pb2.UNAVAILABLE
        assert f"127.0.0.1:{server.port}" in caught.value.message
        with pytest.raises(lro.Unavailable):
            caller.new_operation()

        server.start()
        caller.new_operation(existing=child.name).done()
        final = caller.wait_operation(parent.name, timeout=30)
        thread.join(30)

        assert failures == []
        assert final.done
        response = wrappers_pb2.StringValue()
        final.response.Unpack(response)
        assert response.value == "after the restart"
        assert worker.new_operation(state_type=dict, existing=parent.name).state == {"step": "done"}
        assert all(not caller.get_operation(name).done for name in kept)
