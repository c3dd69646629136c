"""Writers of one SQLite file in one process queue on its write lock, not on SQLite's.

The stores' connections here have SQLite's busy timeout set to 0, so a write that found
SQLite's lock taken would fail at once (Unavailable): each write that succeeds while
another holds the file waited in the process's lock instead.
"""

from __future__ import annotations

import collections
import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import lro
from lro._core import transitions
from lro._store.base import OperationRecord, PurgeQuery, StaleVersion, WaitPlan, update_record
from lro._store.connectors.base import FILTER_SLOT, query_texts
from lro._store.connectors.sqlite import SqliteConnector
from lro._store.connectors.sqlite_lock import WriteLock, is_write, write_lock_for
from lro._store.sql_store import SqliteStore

PLAN = WaitPlan(target_kind="handler", target="h")  # due at once
LEASE_US = 60_000_000


def _record(name: str) -> OperationRecord:
    return OperationRecord(operation=transitions.new_operation(name))


def _connector(store: SqliteStore) -> SqliteConnector:
    connector = store.connector
    assert isinstance(connector, SqliteConnector)
    return connector


def _unpolled_store(path: Path, connections: int = 1) -> SqliteStore:
    """A store on ``path`` whose ``connections`` connections never wait for SQLite's lock."""
    store = SqliteStore(path, max_connections=connections, change_poll_interval=0)
    with contextlib.ExitStack() as held:  # check every connection out at once
        for _ in range(connections):
            connection = held.enter_context(_connector(store).connection())
            connection.execute("PRAGMA busy_timeout = 0")
    return store


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.001)


def _claimed(store: SqliteStore, name: str) -> str:
    """Schedule a wait for ``name`` and claim it; its lease token."""
    record = store.get(name)
    store.schedule(record, record.version, PLAN)
    (wakeup,) = store.claim_wakeups("w", lease_us=LEASE_US, limit=1, handlers={"h"}, pinned_to="")
    return wakeup.lease_token


def _old_done(store: SqliteStore, name: str) -> None:
    record = store.create(_record(name))
    finished = record.replace(operation=transitions.finish(record.operation))
    store.update(finished, expected_version=record.version)


# Each write path: (setup on the first store, the write on the second) -> its outcome.
WRITES: dict[str, tuple[Callable[[SqliteStore], Any], Callable[[SqliteStore, Any], object]]]
WRITES = {
    "create": (lambda s: None, lambda s, _: s.create(_record("operations/new")).version),
    "update": (
        lambda s: s.create(_record("operations/a")),
        lambda s, r: s.update(r, expected_version=r.version).version,
    ),
    "delete": (lambda s: s.create(_record("operations/a")), lambda s, _: s.delete("operations/a")),
    "schedule": (
        lambda s: s.create(_record("operations/a")),
        lambda s, r: s.schedule(r, r.version, PLAN)[1].target,
    ),
    "claim_wakeups": (
        lambda s: s.schedule(s.create(_record("operations/a")), 1, PLAN),
        lambda s, _: len(s.claim_wakeups("w", lease_us=1, limit=5, handlers={"h"}, pinned_to="")),
    ),
    "renew_wakeups": (
        lambda s: _claimed(s, s.create(_record("operations/a")).name),
        lambda s, token: s.renew_wakeups([str(token)], LEASE_US),
    ),
    "release_wakeups": (
        lambda s: _claimed(s, s.create(_record("operations/a")).name),
        lambda s, token: s.release_wakeups([str(token)]),
    ),
    "purge_batch": (
        lambda s: _old_done(s, "operations/old"),
        lambda s, _: s.purge_batch(PurgeQuery(None, None, before_us=2**62)),
    ),
}
EXPECTED = {
    "create": 1,
    "update": 2,
    "delete": None,
    "schedule": "h",
    "claim_wakeups": 1,
    "renew_wakeups": {"token"},
    "release_wakeups": 1,
    "purge_batch": 1,
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_write_waits_in_the_process_lock_while_another_store_writes(
    tmp_path: Path, write: str
) -> None:
    setup, run = WRITES[write]
    holder = SqliteStore(tmp_path / "a.db", change_poll_interval=0)
    arranged = setup(holder)
    expected = EXPECTED[write] if write != "renew_wakeups" else {arranged}
    waiter = _unpolled_store(tmp_path / "a.db")
    lock = write_lock_for(tmp_path / "a.db")
    outcome: list[object] = []

    def write_on_waiter() -> None:
        try:
            outcome.append(run(waiter, arranged))
        except BaseException as exc:
            outcome.append(exc)

    with holder.connector.transaction() as db:  # holds SQLite's one write lock
        db.execute("insert_setting", name="held", value=b"x")
        thread = threading.Thread(target=write_on_waiter)
        thread.start()
        _until(lambda: lock.waiting == 1 or bool(outcome))
    thread.join()
    assert outcome == [expected]
    holder.close()
    waiter.close()


def test_writers_of_many_stores_never_poll_sqlite(tmp_path: Path) -> None:
    """Eight threads over four stores on one file race creates and updates: with
    SQLite's busy timeout at 0, each one would fail if two writes met in SQLite."""
    stores = [_unpolled_store(tmp_path / "a.db", connections=2) for _ in range(4)]
    threads, writes = 8, 15
    barrier = threading.Barrier(threads)
    failures: list[BaseException] = []

    def write(worker: int) -> None:
        store = stores[worker % len(stores)]
        barrier.wait()
        try:
            for step in range(writes):
                record = store.create(_record(f"operations/w{worker}-{step}"))
                store.update(record, expected_version=record.version)
        except BaseException as exc:
            failures.append(exc)

    pool = [threading.Thread(target=write, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert failures == []
    found = stores[0].get_many(
        [f"operations/w{w}-{s}" for w in range(threads) for s in range(writes)]
    )
    assert {record.version for record in found.values()} == {2}
    assert len(found) == threads * writes
    for store in stores:
        store.close()


def test_a_write_kept_waiting_past_the_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    holder = SqliteStore(tmp_path / "a.db", change_poll_interval=0)
    waiter = SqliteStore(tmp_path / "a.db", change_poll_interval=0, busy_timeout_ms=50)
    with holder.connector.transaction(), pytest.raises(lro.Unavailable):
        waiter.create(_record("operations/late"))
    assert write_lock_for(tmp_path / "a.db").waiting == 0  # it left the queue
    assert waiter.create(_record("operations/late")).version == 1  # and writes after
    holder.close()
    waiter.close()


def test_reads_do_not_wait_for_the_writer(tmp_path: Path) -> None:
    holder = SqliteStore(tmp_path / "a.db", change_poll_interval=0)
    holder.create(_record("operations/a"))
    reader = SqliteStore(tmp_path / "a.db", change_poll_interval=0, busy_timeout_ms=0)
    with holder.connector.transaction() as db:
        db.execute("delete_operation", name="operations/a")
        assert reader.get("operations/a").version == 1  # WAL: the last commit
    holder.close()
    reader.close()


def test_one_lock_per_file_however_it_is_named(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path / "a.db", tmp_path / "link.db")
    lock = write_lock_for(tmp_path / "a.db")
    assert write_lock_for(tmp_path / "sub" / ".." / "a.db") is lock
    assert write_lock_for(tmp_path / "link.db") is lock
    assert write_lock_for(tmp_path / "b.db") is not lock


def test_the_lock_goes_to_waiters_in_their_order() -> None:
    lock = WriteLock()
    assert lock.acquire(timeout=1)
    order: list[int] = []

    def take(number: int) -> None:
        assert lock.acquire(timeout=30)
        order.append(number)
        lock.release()

    pool = []
    for number in range(5):
        pool.append(threading.Thread(target=take, args=(number,)))
        pool[-1].start()
        _until(lambda n=number: lock.waiting == n + 1)  # type: ignore[misc]
    lock.release()
    for thread in pool:
        thread.join()
    assert order == [0, 1, 2, 3, 4]


def test_the_lock_is_reentrant_and_a_timed_out_waiter_leaves() -> None:
    lock = WriteLock()
    assert lock.acquire(timeout=0)
    assert lock.acquire(timeout=0)  # a nested write
    taken: list[bool] = []
    thread = threading.Thread(target=lambda: taken.append(lock.acquire(timeout=0.01)))
    thread.start()
    thread.join()
    assert taken == [False]
    assert lock.waiting == 0
    lock.release()
    thread = threading.Thread(target=lambda: taken.append(lock.acquire(timeout=0)))
    thread.start()
    thread.join()
    assert taken == [False, False]  # held once still
    lock.release()
    thread = threading.Thread(target=lambda: taken.append(lock.acquire(timeout=0)))
    thread.start()
    thread.join()
    assert taken == [False, False, True]


def _sqlite_writes(connection: sqlite3.Connection, text: str) -> bool:
    """Whether SQLite compiles ``text`` to a write (its Transaction opcode's p2)."""
    params: collections.defaultdict[str, None] = collections.defaultdict(lambda: None)
    rows = connection.execute("EXPLAIN " + text.replace(FILTER_SLOT, "1"), params).fetchall()
    return any(row[1] == "Transaction" and row[3] != 0 for row in rows)


def test_every_query_that_sqlite_calls_a_write_takes_the_lock(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db", change_poll_interval=0)
    texts = query_texts("sqlite")
    with _connector(store).connection() as connection:
        writes = {name for name, text in texts.items() if _sqlite_writes(connection, text)}
    store.close()
    taking = {name for name, text in texts.items() if is_write(text)}
    assert writes <= taking
    # A table made if missing compiles to no write once it exists; it runs in the
    # migration's transaction, under the lock anyway.
    assert taking - writes == {"create_migrations_table"}
    assert "get_operation" not in taking


def test_a_lost_compare_and_set_retries_alone_in_the_process(tmp_path: Path) -> None:
    """A writer whose first compare-and-set lost retries holding the file's lock: a
    writer of another store that comes meanwhile waits, and loses instead."""
    first = SqliteStore(tmp_path / "a.db", change_poll_interval=0)
    second = SqliteStore(tmp_path / "a.db", change_poll_interval=0)
    lock = write_lock_for(tmp_path / "a.db")
    created = first.create(_record("operations/a"))
    first.update(created, expected_version=1)  # the first attempt below loses
    seen: list[int] = []
    other: list[object] = []

    def write_on_first() -> None:
        try:
            other.append(first.update(created, expected_version=2).version)
        except BaseException as exc:
            other.append(exc)

    def change(record: OperationRecord) -> OperationRecord:
        seen.append(record.version)
        if len(seen) == 2:  # the retry: another writer comes now
            thread = threading.Thread(target=write_on_first)
            thread.start()
            _until(lambda: lock.waiting == 1 or bool(other))
            threads.append(thread)
        return record

    threads: list[threading.Thread] = []
    assert update_record(second, created, change).version == 3
    threads[0].join()
    assert seen == [1, 2]
    assert len(other) == 1
    assert isinstance(other[0], StaleVersion)
    first.close()
    second.close()


def test_a_forked_child_does_not_inherit_a_held_lock(tmp_path: Path) -> None:
    lock = write_lock_for(tmp_path / "a.db")
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:  # another thread holds it at the fork; none releases it there
        assert lock.acquire(timeout=0)
        taken.set()
        done.wait(30)
        lock.release()

    holder = threading.Thread(target=hold)
    holder.start()
    taken.wait(30)
    pid = os.fork()
    if pid == 0:  # the child: its own lock, free
        os._exit(0 if write_lock_for(tmp_path / "a.db").acquire(timeout=0) else 1)
    done.set()
    holder.join()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
