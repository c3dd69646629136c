"""A damaged row (Operation bytes that do not decode, a version that is not a number)
is ``lro.DataLoss`` naming the operation; a listing shows a placeholder for it and
every other row, on every backend."""

from __future__ import annotations

import functools
from pathlib import Path

import google.rpc.code_pb2 as code_pb2
import pytest

import lro
from lro._store.sql_store import SqliteStore
from tests.damage import damage_operation, damage_version


def _three(client: lro.Client) -> list[str]:
    return [client.new_operation().name for _ in range(3)]


@pytest.mark.parametrize("data", [b"\x0a\xff", b"", b"\x0a\x03xyz"])
def test_get_and_wait_raise_data_loss_naming_the_operation(client: lro.Client, data: bytes) -> None:
    first, damaged, _ = _three(client)
    damage_operation(client.store, damaged, data)
    for call in (
        functools.partial(client.get_operation, damaged),
        functools.partial(client.wait_operation, damaged, timeout=0),
        functools.partial(client.cancel_operation, damaged),
    ):
        with pytest.raises(lro.DataLoss) as raised:
            call()
        assert raised.value.code == code_pb2.DATA_LOSS
        assert damaged in raised.value.message
        assert raised.value.operation == damaged
    assert client.get_operation(first).name == first


def test_a_listing_shows_a_placeholder_and_every_other_row(client: lro.Client) -> None:
    first, damaged, last = _three(client)
    damage_operation(client.store, damaged)
    operations, token = client.list_operations()
    assert [op.name for op in operations] == [first, damaged, last]
    assert not token
    placeholder = operations[1]
    assert placeholder.done
    assert placeholder.error.code == code_pb2.DATA_LOSS
    assert damaged in placeholder.error.message
    assert [op.done for op in operations] == [False, True, False]
    page, token = client.list_operations(page_size=2)  # the placeholder ends the page
    assert [op.name for op in page] == [first, damaged]
    rest, _ = client.list_operations(page_size=2, page_token=token)
    assert [op.name for op in rest] == [last]
    failed, _ = client.list_operations("error.code = 15")
    assert failed == []  # filters see the row's columns, not the placeholder


def test_a_version_that_is_not_a_number(tmp_path: Path) -> None:
    with lro.Client(f"sqlite:///{tmp_path}/lro.db", worker=False) as client:
        _, damaged, _ = _three(client)
        assert isinstance(client.store, SqliteStore)
        damage_version(client.store, damaged)
        with pytest.raises(lro.DataLoss, match=damaged):
            client.get_operation(damaged)
        operations, _ = client.list_operations()
        assert [op.error.code for op in operations] == [0, code_pb2.DATA_LOSS, 0]
