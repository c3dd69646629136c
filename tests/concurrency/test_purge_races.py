"""A purge racing writers, on every backend: it deletes the done operations that were old
when it began, and never a running one, nor a done one written while it ran.

Each trial makes old done operations, running ones and done ones that a writer touches,
then releases together a purge in batches of two, a thread that finishes the running
ones, and one that writes the touched ones. Every write made during the race is newer
than the purge's cutoff, so the purge must keep what they wrote.
"""

from __future__ import annotations

from collections.abc import Callable

import lro
from lro._core import transitions
from lro._store.base import PurgeQuery, Store, now_us, update_record
from lro._store.retention import purge
from tests.concurrency.races import limits, race
from tests.purging import done, names, running

EACH = 4  # operations of each kind a trial


def _purger(store: Store, query: PurgeQuery, outcome: dict[str, int]) -> Callable[[], None]:
    def purge_all() -> None:
        outcome["deleted"] = purge(store, query)

    return purge_all


def _finisher(store: Store, names_: list[str]) -> Callable[[], None]:
    def finish_all() -> None:
        for name in names_:
            update_record(
                store,
                store.get(name),
                lambda r: r.replace(operation=transitions.finish(r.operation)),
            )

    return finish_all


def _toucher(store: Store, names_: list[str], gone: set[str]) -> Callable[[], None]:
    """Writes each of ``names_`` once; adds to ``gone`` those deleted already."""

    def touch_all() -> None:
        for name in names_:
            try:
                update_record(store, store.get(name), lambda r: r.replace(state=b"touched"))
            except lro.NotFound:
                gone.add(name)

    return touch_all


def test_purge_keeps_running_and_newly_written_operations(
    client: lro.Client, store_url: str
) -> None:
    store = client.store
    for trial in range(limits(store_url).repeats):
        collection = f"projects/t{trial}/operations"  # a trial's own
        prefix = f"{collection}/"
        old = [done(store, f"{prefix}old{i}").name for i in range(EACH)]
        touched = [done(store, f"{prefix}touched{i}").name for i in range(EACH)]
        runs = [running(store, f"{prefix}running{i}").name for i in range(EACH)]
        cutoff_us = max(store.get(name).update_time_us for name in old + touched + runs) + 1
        while now_us() <= cutoff_us:  # the writes of the race come after the cutoff
            pass
        outcome: dict[str, int] = {}
        gone: set[str] = set()

        race(
            [
                _purger(store, PurgeQuery(collection, None, cutoff_us, limit=2), outcome),
                _finisher(store, runs),
                _toucher(store, touched, gone),
            ]
        )

        left = names(store, collection)
        assert left == set(runs) | (set(touched) - gone), f"trial {trial}"
        assert outcome["deleted"] == len(old) + len(gone)
        assert all(store.get(name).done for name in runs)
