"""WorkerSettings(retention=...): the worker purges old done operations while it runs."""

from __future__ import annotations

import dataclasses
import datetime

import pytest

import lro
from lro._resume.retention import PeriodicPurge
from tests.durable.conftest import FAST, eventually
from tests.purging import HOUR_US, ShiftedClock, done, names, running, set_clock


def test_the_worker_purges_what_became_old(store_url: str) -> None:
    settings = dataclasses.replace(
        FAST, retention=datetime.timedelta(minutes=30), purge_interval=0.05
    )
    with lro.Client(store_url, worker=settings) as client:
        done(client.store, "operations/done")
        done(client.store, "projects/p/operations/done")
        running(client.store, "operations/running")
        worker = client.start_worker()
        assert worker._purge is not None
        purges = worker._purge
        runs = purges.runs
        assert eventually(lambda: purges.runs >= runs + 2)  # since these were written
        assert names(client.store) == {"operations/done", "operations/running"}  # new

        set_clock(client, ShiftedClock(shift_us=HOUR_US))

        assert eventually(lambda: purges.deleted == 2)
        assert names(client.store) == {"operations/running"}
        assert names(client.store, "projects/p/operations") == set()


def test_no_retention_no_purge(store_url: str) -> None:
    with lro.Client(store_url, worker=FAST) as client:
        assert client.start_worker()._purge is None


@pytest.mark.parametrize(
    "changes", [{"retention": -1}, {"retention": "90d"}, {"purge_interval": 0}]
)
def test_bad_retention_settings(changes: dict[str, object]) -> None:
    with pytest.raises(lro.InvalidArgument):
        dataclasses.replace(FAST, **changes)  # type: ignore[arg-type]


def test_a_failed_purge_is_logged_and_the_next_one_runs(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with lro.Client(store_url, worker=False) as client:
        purge = PeriodicPurge(client.runtime, 60, 3600)
        try:
            assert eventually(lambda: purge.runs == 1)  # the first, at start
            set_clock(client, ShiftedClock(shift_us=HOUR_US))
            done(client.store, "operations/done")
            original = client.store.purge_batch  # type: ignore[attr-defined]
            client.store.purge_batch = lambda _q: 1 // 0  # type: ignore[attr-defined]
            assert purge.purge_once() == 0
            assert "retention: purging operations failed" in caplog.text
            client.store.purge_batch = original  # type: ignore[attr-defined]
            assert purge.purge_once() == 1
        finally:
            purge.stop()
