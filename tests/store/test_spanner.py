"""Spanner: lro next to a Go service on the Go package's own table, on the emulator."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import google.longrunning.operations_proto_pb2 as operations_pb2
import pytest
from google.protobuf import wrappers_pb2

import lro
from lro._store.urls import spanner_config
from tests import spanner_emulator

PROJECT = spanner_emulator.PROJECT
GO_TABLE = lro.SpannerConfig.go_table_name(PROJECT)


def test_go_table_name_and_urls() -> None:
    assert lro.SpannerConfig.go_table_name("my-proj-1") == "my_proj_1_AlisManagedOperations"
    config = spanner_config("spanner:///projects/p/instances/i/databases/d?table=T&database_role=r")
    assert config == lro.SpannerConfig("p", "i", "d", database_role="r", table="T")
    for bad in (
        "spanner:///projects/p/instances/i",
        "spanner://host/projects/p/instances/i/databases/d",
        "spanner:///projects//instances/i/databases/d",
        "spanner:///projects/p/instances/i/databases/d?colour=red",
    ):
        with pytest.raises(lro.InvalidArgument):
            spanner_config(bad)


@pytest.fixture(scope="module")
def go_database(spanner_host: str) -> str:
    database_id = f"go-{uuid.uuid4().hex[:12]}"
    ddl = [
        *spanner_emulator.go_table_ddl(GO_TABLE),
        *spanner_emulator.go_table_ddl("v1_AlisManagedOperations", v2_columns=False)[1:],
        "CREATE TABLE NotOperations (id STRING(MAX) NOT NULL) PRIMARY KEY (id)",
    ]
    spanner_emulator.create_database(database_id, ddl, spanner_emulator.operation_descriptors())
    return database_id


@pytest.fixture
def database(go_database: str) -> Iterator[Any]:
    """The raw Spanner database, as a Go service sees it."""
    from google.cloud import spanner

    client: Any = spanner.Client(project=PROJECT)
    yield client.instance(spanner_emulator.INSTANCE).database(go_database)
    client.close()


def _go_client(go_database: str, table: str = GO_TABLE) -> lro.Client:
    return lro.Client(
        lro.SpannerConfig(PROJECT, spanner_emulator.INSTANCE, go_database, table=table)
    )


def _raw_row(database: Any, name: str, table: str = GO_TABLE) -> list[Any]:
    sql = f"SELECT key, Operation, State, ResumePoint FROM {table} WHERE key = @name"
    from google.cloud.spanner_v1 import param_types

    with database.snapshot() as snapshot:
        rows = list(
            snapshot.execute_sql(
                sql,
                params={"name": name},
                param_types={"name": param_types.STRING},
                column_info={"Operation": operations_pb2.Operation()},
            )
        )
    assert len(rows) == 1
    return list(rows[0])


def test_python_writes_rows_a_go_service_reads(go_database: str, database: Any) -> None:
    with _go_client(go_database) as client:
        op = client.new_operation(state_type=dict, resume_method="/pkg.Svc/Method")
        op.set_metadata(wrappers_pb2.Int32Value(value=3))
        op.state = {"step": 1}
        op.done(wrappers_pb2.StringValue(value="ok"))
    key, operation, state, resume_point = _raw_row(database, op.name)
    assert key == op.name
    assert isinstance(operation, operations_pb2.Operation)
    assert operation.done
    assert operation.response.Is(wrappers_pb2.StringValue.DESCRIPTOR)
    assert base64.b64decode(state) == b'{"step":1}'
    assert resume_point == ""


def test_python_reads_rows_a_go_service_wrote(go_database: str, database: Any) -> None:
    name = f"operations/{uuid.uuid4()}"
    written = operations_pb2.Operation(name=name)
    written.metadata.Pack(wrappers_pb2.Int32Value(value=9))
    gob_state = b"\x0c\xff\x81\x03\x01\x01\x07MyState"
    with database.batch() as batch:
        batch.insert(
            GO_TABLE,
            ["Operation", "State", "ResumePoint"],
            [(written, base64.b64encode(gob_state), "resumePoint1")],
        )
    with _go_client(go_database) as client:
        assert client.get_operation(name) == written
        record = client.store.get(name)
        assert (record.state, record.resume_point) == (gob_state, "resumePoint1")
        op = client.new_operation(existing=name)
        assert op.resume_point == "resumePoint1"
        op.done()
    assert _raw_row(database, name)[1].done


def test_a_go_write_in_between_is_not_lost(go_database: str, database: Any) -> None:
    with _go_client(go_database) as client:
        op = client.new_operation(state_type=dict)
        with database.batch() as batch:  # the Go service writes a resume point
            batch.update(GO_TABLE, ["key", "ResumePoint"], [(op.name, "fromGo")])
        op.state = {"python": True}  # compare-and-set sees the change and retries
    _, _, state, resume_point = _raw_row(database, op.name)
    assert resume_point == "fromGo"
    assert base64.b64decode(state) == b'{"python":true}'


def test_v1_table_without_method_and_update_time(go_database: str, database: Any) -> None:
    table = "v1_AlisManagedOperations"
    with _go_client(go_database, table) as client:
        op = client.new_operation()
        op.done()
        assert client.get_operation(op.name).done
    assert _raw_row(database, op.name, table)[1].done


@pytest.mark.parametrize("table", ["NotOperations", "Missing", "bad name;"])
def test_tables_that_do_not_fit_are_refused(go_database: str, table: str) -> None:
    client = _go_client(go_database, table)  # constructing does no I/O
    with pytest.raises(lro.InvalidArgument):
        client.open()


def test_listing_a_go_table(go_database: str, database: Any) -> None:
    with _go_client(go_database, "v1_AlisManagedOperations") as client:
        ops = [client.new_operation() for _ in range(5)]
        ops[1].done()
        ops[3].error(lro.NotFound("operations/x"))
        names: list[str] = []
        token = ""
        while True:
            page, token = client.list_operations(page_size=2, page_token=token)
            assert len(page) <= 2
            names += [operation.name for operation in page]
            if not token:
                break
        mine = {op.name for op in ops}
        assert names == sorted(set(names))  # in name order, each once
        assert [name for name in names if name in mine] == sorted(mine)
        done, _ = client.list_operations(filter="done = true AND error.code = 0")
        assert [o.name for o in done if o.name in mine] == [ops[1].name]
        failed, _ = client.list_operations(filter="error.code = NOT_FOUND")
        assert [o.name for o in failed] == [ops[3].name]
        with pytest.raises(lro.InvalidArgument, match="create_time"):
            client.list_operations(filter='create_time > "2020-01-01T00:00:00Z"')


def test_a_go_table_refuses_durable_waits_clearly(go_database: str) -> None:
    with _go_client(go_database) as client:
        op = client.new_operation(callback=lambda _op: None)
        with pytest.raises(lro.FailedPrecondition, match="lro's own Spanner schema"):
            op.wait(sleep=1, resume_at="p")
        with pytest.raises(lro.FailedPrecondition, match="lro's own Spanner schema"):
            client.start("anything", registered_elsewhere=True)
        assert not client.get_operation(op.name).done
        op.done()  # finishing touches no wake-up table (the Go database has none)
        assert client.get_operation(op.name).done


def test_a_go_table_takes_ids_and_refuses_request_ids_clearly(
    go_database: str, database: Any
) -> None:
    chosen = f"go-{uuid.uuid4().hex[:8]}"
    with _go_client(go_database) as client:
        op = client.new_operation(id=chosen)
        assert op.name == f"operations/{chosen}"
        assert _raw_row(database, op.name)[0] == op.name  # a row a Go service reads
        with pytest.raises(lro.AlreadyExists):
            client.new_operation(id=chosen)
        before = {o.name for o in client.list_operations(page_size=1000)[0]}
        with pytest.raises(lro.FailedPrecondition, match="request ids need lro's own Spanner"):
            client.new_operation(request_id="r")
        with pytest.raises(lro.FailedPrecondition, match="lro's own Spanner schema"):
            client.start("anything", request_id="r", registered_elsewhere=True)
        assert {o.name for o in client.list_operations(page_size=1000)[0]} == before


def test_purge_refuses_a_go_table_whose_ttl_keeps_it(go_database: str) -> None:
    with _go_client(go_database) as client:
        operation = client.new_operation()
        operation.done()
        with pytest.raises(lro.FailedPrecondition, match="row deletion policy"):
            client.purge(older_than=0)
        assert client.get_operation(operation.name).done
