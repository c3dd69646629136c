"""client.purge (AIP-151 expiry) on every backend: what goes, what stays."""

from __future__ import annotations

import asyncio
import datetime

import google.rpc.code_pb2 as code_pb2
import pytest

import lro
import lro.aio
from lro._store.base import PurgeQuery, WaitPlan
from lro._store.retention import purge, purging_store
from tests.purging import HOUR_US, ShiftedClock, done, names, running, set_clock


def test_purge_deletes_old_done_operations_only(client: lro.Client) -> None:
    store = client.store
    running(store, "operations/running")
    done(store, "operations/ok")
    done(store, "operations/failed", code_pb2.INTERNAL)
    done(store, "projects/p/operations/elsewhere")
    set_clock(client, ShiftedClock(shift_us=HOUR_US))

    assert client.purge(older_than=datetime.timedelta(hours=2)) == 0
    assert client.purge(older_than=1800) == 2

    assert names(store) == {"operations/running"}
    assert names(store, "projects/p/operations") == {"projects/p/operations/elsewhere"}
    assert client.purge(older_than=1800, collection="projects/p") == 1
    assert names(store, "projects/p/operations") == set()


def test_purge_applies_the_filter(client: lro.Client) -> None:
    store = client.store
    done(store, "operations/ok")
    done(store, "operations/cancelled", code_pb2.CANCELLED)
    set_clock(client, ShiftedClock(shift_us=HOUR_US))

    assert client.purge(older_than=60, filter="error.code = CANCELLED") == 1

    assert names(store) == {"operations/ok"}


def test_purge_goes_in_batches_until_none_is_left(
    client: lro.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = client.store
    for index in range(7):
        done(store, f"operations/d{index}")
    running(store, "operations/r")
    batches: list[int] = []
    purging = purging_store(store)
    query = PurgeQuery("operations", None, store.get("operations/r").update_time_us + 1, limit=3)

    original = purging.purge_batch

    def counted(batch_query: PurgeQuery) -> int:
        batches.append(original(batch_query))
        return batches[-1]

    monkeypatch.setattr(purging, "purge_batch", counted)
    assert purge(store, query, dry_run=True) == 7
    assert purge(store, query) == 7

    assert batches == [3, 3, 1, 0]
    assert names(store) == {"operations/r"}


def test_purge_removes_wakeups_and_keeps_children_still_waited_for(client: lro.Client) -> None:
    store = client.store
    with_wakeup = done(store, "operations/with-wakeup")
    plan = WaitPlan(target_kind="handler", target="h", sleep_us=10**9)
    store.schedule(with_wakeup, with_wakeup.version, plan)  # type: ignore[attr-defined]
    done(store, "operations/child")
    running(store, "operations/other-child")
    parent = running(store, "operations/parent")
    children = ("operations/child", "operations/other-child")
    store.schedule(parent, parent.version, WaitPlan("handler", "h", children=children))  # type: ignore[attr-defined]
    set_clock(client, ShiftedClock(shift_us=HOUR_US))
    assert store.get_wakeup("operations/with-wakeup") is not None  # type: ignore[attr-defined]

    assert client.purge(older_than=60) == 1

    assert store.get_wakeup("operations/with-wakeup") is None  # type: ignore[attr-defined]
    assert names(store) == {"operations/child", "operations/other-child", "operations/parent"}


def test_bad_arguments_are_invalid_argument(client: lro.Client) -> None:
    for arguments in (
        {"older_than": -1},
        {"older_than": "90d"},
        {"older_than": 1, "filter": "done = "},
        {"older_than": 1, "filter": "nope = 1"},
        {"older_than": 1, "collection": "a//b"},
    ):
        with pytest.raises(lro.InvalidArgument):
            client.purge(**arguments)


def test_the_asyncio_face_purges(store_url: str) -> None:
    async def main() -> int:
        async with lro.aio.Client(store_url) as client:
            done(client.store, "operations/ok")
            running(client.store, "operations/r")
            client.runtime.clock = ShiftedClock(shift_us=HOUR_US)
            return await client.purge(older_than=60)

    assert asyncio.run(main()) == 1


def test_a_purge_of_every_collection(client: lro.Client) -> None:
    store = client.store
    done(store, "operations/top")
    done(store, "projects/p/operations/nested")
    kept = running(store, "projects/p/operations/running")
    query = PurgeQuery(None, None, kept.update_time_us + 1)

    assert purge(store, query, dry_run=True) == 2
    assert purge(store, query) == 2

    assert names(store) == set()
    assert names(store, "projects/p/operations") == {"projects/p/operations/running"}
