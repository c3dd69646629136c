"""Constructing a client does no I/O; the store opens on first use, open() or ``with``."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import lro


def test_constructing_a_client_touches_no_file(tmp_path: Path) -> None:
    path = tmp_path / "lazy.db"
    client = lro.Client(f"sqlite:///{path}")
    assert not path.exists()
    op = client.new_operation()  # the first use opens the store and migrates it
    assert path.exists()
    assert client.get_operation(op.name).name == op.name
    client.close()


def test_open_and_with_open_the_store(tmp_path: Path) -> None:
    opened = lro.Client(f"sqlite:///{tmp_path}/opened.db")
    assert opened.open() is opened
    assert (tmp_path / "opened.db").exists()
    opened.close()
    with lro.Client(f"sqlite:///{tmp_path}/with.db"):
        assert (tmp_path / "with.db").exists()


def test_a_client_on_an_unreachable_server_fails_at_first_use() -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = lro.Client(f"postgresql://nobody@127.0.0.1:{port}/none?pool_timeout=1")
    with pytest.raises(lro.Unavailable):
        client.open()
    client.close()


def test_a_closed_client_is_not_opened_again(tmp_path: Path) -> None:
    path = tmp_path / "closed.db"
    client = lro.Client(f"sqlite:///{path}")
    client.close()
    with pytest.raises(lro.Unavailable, match="closed"):
        client.new_operation()
    assert not path.exists()


def test_cancelled_and_state_are_methods_with_sync_properties(client: lro.Client) -> None:
    op = client.new_operation(state_type=dict)
    assert (op.is_cancelled(), op.cancelled) == (False, False)
    op.set_state({"a": 1})
    assert op.get_state() == op.state == {"a": 1}
    op.state = {"a": 2}
    assert client.new_operation(existing=op.name, state_type=dict).get_state() == {"a": 2}
    client.cancel_operation(op.name)
    assert (op.is_cancelled(), op.cancelled) == (True, True)
