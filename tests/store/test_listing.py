"""Listing operations through the store and the client, on every backend."""

from __future__ import annotations

import datetime
import threading

import google.longrunning.operations_proto_pb2 as operations_pb2
import pytest
from google.protobuf import struct_pb2, wrappers_pb2

import lro
from lro._core.filters import parse_filter
from lro._core.listing import ListQuery, PageCursor


def _names(operations: list[operations_pb2.Operation]) -> list[str]:
    return [op.name for op in operations]


def _all_pages(client: lro.Client, page_size: int, **kwargs: str) -> list[str]:
    names: list[str] = []
    token = ""
    while True:
        page, token = client.list_operations(page_size=page_size, page_token=token, **kwargs)
        assert len(page) <= page_size
        names += _names(page)
        if not token:
            return names


def test_store_pages_in_create_time_then_name_order(client: lro.Client) -> None:
    ops = [client.new_operation() for _ in range(5)]
    records = [client.store.get(op.name) for op in ops]
    ordered = sorted(records, key=lambda r: (r.create_time_us, r.name))
    first = client.store.list_page(ListQuery("operations", None, None, 2))
    assert first == ordered[:2]
    after = PageCursor(first[-1].create_time_us, first[-1].name)
    assert client.store.list_page(ListQuery("operations", None, after, 10)) == ordered[2:]
    done = client.store.list_page(ListQuery("operations", parse_filter("done = true"), None, 10))
    assert done == []


def test_every_operation_once_across_pages(client: lro.Client) -> None:
    created = [client.new_operation().name for _ in range(23)]
    for size in (1, 5, 23, 100):
        listed = _all_pages(client, size)
        assert sorted(listed) == sorted(created)
        assert len(listed) == len(created)


def test_pages_stay_whole_while_operations_are_added(client: lro.Client) -> None:
    before = {client.new_operation().name for _ in range(30)}
    stop = threading.Event()

    def add() -> None:
        # Bounded, so that the listing can reach the end however slow the store's pages
        # are next to its inserts.
        for _ in range(60):
            if stop.is_set():
                return
            client.new_operation()

    adder = threading.Thread(target=add)
    adder.start()
    try:
        listed = _all_pages(client, 4)
    finally:
        stop.set()
        adder.join()
    assert len(listed) == len(set(listed))  # no duplicates
    assert before <= set(listed)  # nothing that existed was skipped


def test_filters_on_every_field(client: lro.Client) -> None:
    running = client.new_operation(metadata=wrappers_pb2.StringValue(value="m"))
    succeeded = client.new_operation(metadata=struct_pb2.Struct())
    succeeded.done()
    failed = client.new_operation()
    failed.error(lro.NotFound("x"))
    cancelled = client.new_operation()
    client.cancel_operation(cancelled.name)
    everything = {running.name, succeeded.name, failed.name, cancelled.name}

    def matching(query_filter: str) -> set[str]:
        return set(_names(client.list_operations(query_filter)[0]))

    assert matching("") == everything
    assert matching("done = true") == everything - {running.name}
    assert matching("done = false") == {running.name}
    assert matching("error.code = 0") == {running.name, succeeded.name}
    assert matching("error.code = NOT_FOUND") == {failed.name}
    assert matching("error.code = 1 OR error.code = 5") == {failed.name, cancelled.name}
    assert matching("done = true AND NOT error.code = CANCELLED") == {succeeded.name, failed.name}
    assert matching('metadata.@type = "google.protobuf.StringValue"') == {running.name}
    assert matching("metadata.type_url = type.googleapis.com/google.protobuf.Struct") == {
        succeeded.name
    }
    assert matching(f'name = "{failed.name}"') == {failed.name}
    assert matching(f'name = "{failed.name[:-4]}*"') == {failed.name}
    created = client.store.get(failed.name).create_time_us
    moment = datetime.datetime.fromtimestamp(created / 1e6, tz=datetime.UTC)
    stamp = moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
    assert matching(f'create_time >= "{stamp}"') >= {failed.name, cancelled.name}
    assert running.name not in matching(f'create_time >= "{stamp}"')
    assert matching(f'update_time < "{stamp}"') == {running.name, succeeded.name}
    assert matching('create_time > "2999-01-01T00:00:00Z"') == set()


def test_collections_are_separate(client: lro.Client) -> None:
    top = client.new_operation()
    nested = client.new_operation(parent="projects/p/locations/l")
    deeper = client.new_operation(parent="projects/p/locations/l/things/t")
    assert _names(client.list_operations()[0]) == [top.name]
    assert _names(client.list_operations(name="projects/p/locations/l")[0]) == [nested.name]
    assert _names(client.list_operations(name="projects/p/locations/l/things/t/operations")[0]) == [
        deeper.name
    ]
    assert client.list_operations(name="projects/none")[0] == []


def test_tokens_are_bound_to_the_query_and_the_store(client: lro.Client, tmp_path: object) -> None:
    for _ in range(3):
        client.new_operation()
    _, token = client.list_operations(page_size=1)
    assert token
    with pytest.raises(lro.InvalidPageToken):
        client.list_operations("done = false", page_size=1, page_token=token)
    with pytest.raises(lro.InvalidPageToken):
        client.list_operations(page_size=1, page_token=token, name="projects/p")
    with lro.Client(f"sqlite:///{tmp_path}/other.db") as other, pytest.raises(lro.InvalidPageToken):
        other.list_operations(page_size=1, page_token=token)
    # A page size may change between pages.
    page, _ = client.list_operations(page_size=5, page_token=token)
    assert len(page) == 2


def test_the_token_key_is_kept_in_the_database(store_url: str) -> None:
    with lro.Client(store_url) as first:
        for _ in range(2):
            first.new_operation()
        page, token = first.list_operations(page_size=1)
        key = first.store.page_token_key()
    with lro.Client(store_url) as second:
        assert second.store.page_token_key() == key
        rest, _ = second.list_operations(page_size=1, page_token=token)
    assert len(rest) == 1
    assert rest[0].name != page[0].name
