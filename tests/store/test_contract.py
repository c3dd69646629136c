"""The store contract: every backend must pass these."""

from __future__ import annotations

import threading

import pytest
from google.protobuf import wrappers_pb2

import lro
from lro._core import transitions
from lro._store.base import OperationRecord, StaleVersion, update_record


def _record(name: str = "operations/a") -> OperationRecord:
    return OperationRecord(operation=transitions.new_operation(name), state=b"{}")


def test_create_get_round_trip(client: lro.Client) -> None:
    store = client.store
    created = store.create(_record())
    assert created.version == 1
    assert created.create_time_us == created.update_time_us > 0
    fetched = store.get("operations/a")
    assert fetched == created
    with pytest.raises(lro.AlreadyExists):
        store.create(_record())


def test_missing_operations(client: lro.Client) -> None:
    store = client.store
    with pytest.raises(lro.NotFound):
        store.get("operations/missing")
    with pytest.raises(lro.NotFound):
        store.delete("operations/missing")
    with pytest.raises(lro.NotFound):
        store.update(_record("operations/missing"), expected_version=1)
    assert store.get_many(["operations/missing"]) == {}


def test_get_many_returns_those_that_exist(client: lro.Client) -> None:
    store = client.store
    for name in ("operations/a", "operations/b", "operations/c"):
        store.create(_record(name))
    found = store.get_many(["operations/a", "operations/c", "operations/x"])
    assert sorted(found) == ["operations/a", "operations/c"]
    assert store.get_many([]) == {}


def test_update_is_compare_and_set(client: lro.Client) -> None:
    store = client.store
    first = store.create(_record())
    finished = first.replace(operation=transitions.finish(first.operation), resume_point="p")
    second = store.update(finished, expected_version=1)
    assert second.version == 2
    stored = store.get("operations/a")
    assert stored.done
    assert stored.resume_point == "p"
    assert stored.version == 2
    with pytest.raises(StaleVersion):
        store.update(first.replace(state=b"[]"), expected_version=1)
    assert store.get("operations/a").state == b"{}"


def test_delete(client: lro.Client) -> None:
    store = client.store
    store.create(_record())
    store.delete("operations/a")
    with pytest.raises(lro.NotFound):
        store.get("operations/a")


def test_writes_publish_changes(client: lro.Client) -> None:
    store = client.store
    seen: list[str] = []
    with store.changes.subscribe(["operations/a"], seen.append):
        created = store.create(_record())
        store.update(created.replace(state=b"1"), expected_version=1)
        store.create(_record("operations/other"))
        store.delete("operations/a")
    store.create(_record("operations/a2"))
    assert seen == ["operations/a"] * 3


def test_racing_updates_lose_nothing(client: lro.Client) -> None:
    store = client.store
    created = store.create(_record())
    created = store.update(created.replace(state=b"0"), expected_version=1)

    def increment(_: int) -> None:
        for _round in range(25):
            update_record(
                store,
                store.get("operations/a"),
                lambda r: r.replace(state=str(int(r.state or b"0") + 1).encode()),
            )

    threads = [threading.Thread(target=increment, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = store.get("operations/a")
    assert final.state == b"100"
    assert final.version == 102


def test_reopened_store_keeps_operations(store_url: str) -> None:
    with lro.Client(store_url) as first:
        op = first.new_operation(metadata=wrappers_pb2.Int32Value(value=7))
        op.done(wrappers_pb2.StringValue(value="kept"))
    with lro.Client(store_url) as second:
        operation = second.get_operation(op.name)
    assert operation.done
    response = wrappers_pb2.StringValue()
    operation.response.Unpack(response)
    assert response.value == "kept"


def test_a_failing_subscriber_harms_neither_the_write_nor_the_others(
    client: lro.Client, caplog: pytest.LogCaptureFixture
) -> None:
    store = client.store
    seen: list[str] = []

    def broken(name: str) -> None:
        raise RuntimeError("subscriber bug")

    with (
        store.changes.subscribe(["operations/a"], broken),
        store.changes.subscribe(["operations/a"], seen.append),
    ):
        store.create(_record())
    assert seen == ["operations/a"]
    assert store.get("operations/a").version == 1
    assert "subscriber bug" in caplog.text


def test_a_waiter_that_subscribes_during_a_write_reads_it_or_hears_it(
    client: lro.Client,
) -> None:
    """Subscribe-then-read against write-then-publish, raced: no change slips between."""
    record = client.store.create(_record())
    for round_ in range(30):
        seen, heard, record = _subscribe_while_writing(client.store, record)
        assert seen == record.version or heard, f"round {round_}: the change was missed"


def _subscribe_while_writing(
    store: lro.Store, record: OperationRecord
) -> tuple[int, bool, OperationRecord]:
    """(the version read after subscribing, whether the change was heard, the new record)."""
    barrier = threading.Barrier(2)
    heard = threading.Event()
    written: list[OperationRecord] = []

    def write() -> None:
        barrier.wait()
        written.append(store.update(record.replace(state=b"1"), record.version))

    writer = threading.Thread(target=write)
    writer.start()
    barrier.wait()
    with store.changes.subscribe([record.name], lambda _name: heard.set()):
        seen = store.get(record.name).version
        writer.join(30)
        return seen, heard.wait(10) if seen == record.version else False, written[0]
