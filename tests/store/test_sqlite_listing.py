"""SQLite specifics of listing: the upgrade of a database made before it, the plan."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import lro
from lro._core import transitions
from lro._store.base import OperationRecord
from lro._store.connectors.base import query_texts
from lro._store.connectors.sqlite import SqliteConnector
from lro._store.mappings import column_values
from lro._store.queries import load_migrations

QUERIES = query_texts("sqlite")


def test_a_database_from_before_listing_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    connection = sqlite3.connect(path)
    number, file_name, sql = load_migrations("sqlite")[0]
    connection.executescript(sql)
    connection.execute(QUERIES["create_migrations_table"])
    connection.execute(
        QUERIES["record_migration"],
        {"number": number, "file_name": file_name, "applied_time_us": 0},
    )
    names = ["operations/a", "projects/p/operations/b", "projects/p/l/q/operations/c"]
    for index, name in enumerate(names):
        record = OperationRecord(
            transitions.new_operation(name), create_time_us=index, update_time_us=index
        )
        values = column_values(record)
        columns = [
            c
            for c in values
            if c not in {"attempts", "last_error", "wait_timed_out", "trace_context", "request_id"}
        ]
        connection.execute(  # the columns of migration 0001 only
            f"INSERT INTO lro_operations ({', '.join(columns)}) "
            f"VALUES ({', '.join(':' + c for c in columns)})",
            values,
        )
    connection.commit()
    connection.close()
    with lro.Client(f"sqlite:///{path}") as client:
        assert [op.name for op in client.list_operations()[0]] == ["operations/a"]
        assert [op.name for op in client.list_operations(name="projects/p")[0]] == [names[1]]
        assert [op.name for op in client.list_operations(name="projects/p/l/q")[0]] == [names[2]]


def test_pages_are_read_from_the_collection_index(tmp_path: Path) -> None:
    connector = SqliteConnector(tmp_path / "plan.db")
    sql = QUERIES["list_operations"].replace("/*filter*/", "(done = :f0)")
    params = {"collection": "operations", "after_time_us": 5, "after_name": "", "limit": 3}
    with connector.connection() as connection:
        plan = connection.execute(f"EXPLAIN QUERY PLAN {sql}", {**params, "f0": 0}).fetchall()
    connector.close()
    details = " ".join(str(row["detail"]) for row in plan)
    assert "USING INDEX lro_operations_by_collection" in details
    assert "(create_time_us,name)>(?,?)" in details
    assert "TEMP B-TREE" not in details  # no sort: the index gives the order
