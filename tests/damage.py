"""Damaging an operation's row with the backend's own SQL, as a disk fault or a bad
hand edit would: for the tests of what lro answers about damaged rows."""

from __future__ import annotations

import base64
from typing import Any

from lro._store.sql_store import PostgresStore, SqliteStore

# Field 1 (the name) says 255 bytes follow, and none do: no Operation decodes from it.
BAD_BYTES = b"\x0a\xff"


def damage_operation(store: Any, name: str, data: bytes = BAD_BYTES) -> None:
    """Overwrite the stored Operation bytes of ``name`` with ``data``."""
    if isinstance(store, SqliteStore):
        _sql(store, "UPDATE lro_operations SET operation = :data WHERE name = :name", data, name)
    elif isinstance(store, PostgresStore):
        _sql(
            store,
            "UPDATE lro_operations SET operation = %(data)s WHERE name = %(name)s",
            data,
            name,
        )
    else:
        from google.cloud.spanner_v1 import param_types

        def update(transaction: Any) -> None:
            changed = transaction.execute_update(
                "UPDATE lro_operations SET operation = @data WHERE name = @name",
                params={"data": base64.b64encode(data), "name": name},
                param_types={"data": param_types.BYTES, "name": param_types.STRING},
            )
            assert changed == 1

        store._database.run_in_transaction(update)


def damage_version(store: SqliteStore, name: str) -> None:
    """Put text in the version column of ``name`` (SQLite keeps what it is given)."""
    _sql(store, "UPDATE lro_operations SET version = 'x' WHERE name = :name", None, name)


def _sql(store: SqliteStore | PostgresStore, text: str, data: object, name: str) -> None:
    with store.connector.connection() as connection:  # type: ignore[attr-defined]
        cursor = connection.execute(text, {"data": data, "name": name})
        assert cursor.rowcount == 1
