"""The key that signs page tokens comes with the schema on SQLite and PostgreSQL, so
that a listing only reads."""

from __future__ import annotations

from pathlib import Path

import pytest

import lro
from lro._store.sql_store import SqlStore
from tests.conftest import fresh_postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return fresh_postgres_url(request.getfixturevalue("postgres_database_url"))
    return f"sqlite:///{tmp_path}/lro.db"


def _keys(store: SqlStore) -> list[bytes]:
    with store.connector.connection() as connection:  # type: ignore[attr-defined]
        rows = connection.execute(
            "SELECT value FROM lro_settings WHERE name = 'page_token_key'", {}
        ).fetchall()
    return [bytes(row["value"] if isinstance(row, dict) else row[0]) for row in rows]


def test_the_key_is_there_before_any_listing(sql_url: str) -> None:
    with lro.Client(sql_url, worker=False) as client:
        store = client.store
        assert isinstance(store, SqlStore)
        made = _keys(store)
        assert len(made) == 1
        assert len(made[0]) == 32
        client.new_operation()
        client.new_operation()
        _, token = client.list_operations(page_size=1)
        assert token
        assert _keys(store) == made  # listing wrote nothing
    with lro.Client(sql_url, worker=False) as again:  # migrations again: the key stays
        assert isinstance(again.store, SqlStore)
        assert _keys(again.store) == made
        assert len(again.list_operations(page_size=1, page_token=token)[0]) == 1
