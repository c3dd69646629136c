"""The key that signs page tokens comes with the schema on every backend, so that a
listing only reads."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest

import lro
from lro._store.queries import load_migrations
from lro._store.spanner import SpannerStore
from lro._store.spanner_layouts import from_bytes_value
from lro._store.sql_store import SqlStore
from lro._store.urls import open_store
from tests import spanner_emulator
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


def test_stores_opened_at_once_agree_on_one_key(sql_url: str) -> None:
    """Six stores open a fresh database at once (each migrating it if it finds it
    behind) and read the key: one key, one row, every migration applied once."""
    stores: list[SqlStore] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def open_one() -> None:
        barrier.wait()
        try:
            store = open_store(sql_url)
            assert isinstance(store, SqlStore)
            stores.append(store)
        except BaseException as exc:  # reported below
            errors.append(exc)

    for _ in range(3):  # repeated: each round on a database the last round made
        stores.clear()
        threads = [threading.Thread(target=open_one) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        keys = {store.page_token_key() for store in stores}
        assert len(keys) == 1
        assert _keys(stores[0]) == list(keys)
        with stores[0].connector.connection() as connection:  # type: ignore[attr-defined]
            rows = connection.execute("SELECT number FROM lro_migrations", {}).fetchall()
        numbers = [row["number"] if isinstance(row, dict) else row[0] for row in rows]
        backend = "postgresql" if sql_url.startswith("postgresql") else "sqlite"
        assert sorted(numbers) == [number for number, _, _ in load_migrations(backend)]
        for store in stores:
            store.close()


def _spanner_keys(store: SpannerStore) -> list[bytes]:
    with store._database.snapshot() as snapshot:
        rows = snapshot.execute_sql("SELECT value FROM lro_settings WHERE name = 'page_token_key'")
        return [from_bytes_value(row[0]) or b"" for row in rows]


@pytest.mark.usefixtures("spanner_host")
def test_spanners_key_comes_with_its_schema() -> None:
    """The store that migrates a fresh Spanner database makes the key, so that the first
    listing, even under a role that may only read, writes nothing."""
    database_id = f"key-{uuid.uuid4().hex[:12]}"
    spanner_emulator.create_database(database_id, [])
    config = lro.SpannerConfig(spanner_emulator.PROJECT, spanner_emulator.INSTANCE, database_id)
    with lro.Client(config, worker=False) as client:
        store = client.store
        assert isinstance(store, SpannerStore)
        made = _spanner_keys(store)
        assert len(made) == 1
        assert len(made[0]) == 32
        client.new_operation()
        client.new_operation()
        _, token = client.list_operations(page_size=1)
    with lro.Client(config, worker=False) as again:  # opened again: the same key
        assert isinstance(again.store, SpannerStore)
        assert _spanner_keys(again.store) == made
        assert len(again.list_operations(page_size=1, page_token=token)[0]) == 1
