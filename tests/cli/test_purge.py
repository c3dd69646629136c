"""``lro purge``, run as users run it: a real process on a real store."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import lro
from lro.cli import main
from lro.cli._purge import duration
from tests.commands import run_lro
from tests.durable.conftest import eventually
from tests.purging import done, names, running

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/cli.db"


def test_purge_dry_run_filter_and_collection(url: str) -> None:
    with lro.Client(url, worker=False) as client:
        done(client.store, "operations/ok")
        done(client.store, "operations/cancelled", code=1)
        done(client.store, "projects/p/operations/x")
        running(client.store, "operations/running")

    kept = run_lro("purge", "--db", url, "--older-than", "90d")
    assert (kept.returncode, kept.stdout) == (0, "deleted 0 operations\n"), kept.stderr
    counted = run_lro("purge", "--db", url, "--older-than", "0s", "--dry-run")
    assert counted.stdout == "2 operations would be deleted (dry run)\n", counted.stderr
    filtered = run_lro("purge", "--db", url, "--older-than", "0s", "--filter", "error.code = 1")
    assert filtered.stdout == "deleted 1 operation\n", filtered.stderr
    elsewhere = run_lro("purge", "--db", url, "--older-than", "0m", "--collection", "projects/p")
    assert elsewhere.stdout == "deleted 1 operation\n", elsewhere.stderr

    with lro.Client(url, worker=False) as client:
        assert names(client.store) == {"operations/ok", "operations/running"}
        assert names(client.store, "projects/p/operations") == set()


def test_purge_in_process(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with lro.Client(url, worker=False) as client:
        done(client.store, "operations/ok")
    assert main(["purge", "--db", url, "--older-than", "0h"]) == 0
    assert capsys.readouterr().out == "deleted 1 operation\n"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90d", 7_776_000), ("12h", 43_200), ("30m", 1_800), ("45s", 45), ("1d12h", 129_600)],
)
def test_durations(text: str, seconds: float) -> None:
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["90", "d", "-1d", "1w", "1.5h", "", "90d junk"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="invalid duration"):
        duration(text)


def test_bad_arguments_exit_with_a_message(url: str, tmp_path: Path) -> None:
    nowhere = run_lro("purge", "--db", f"sqlite:///{tmp_path}/none.db", "--older-than", "1d")
    assert nowhere.returncode == 1
    assert "lro: FailedPrecondition: there is no SQLite database" in nowhere.stderr
    assert not (tmp_path / "none.db").exists()  # a purge makes no database
    with lro.Client(url, worker=False) as client:
        client.list_operations()  # the database exists
    bad_duration = run_lro("purge", "--db", url, "--older-than", "1w")
    assert bad_duration.returncode == 2
    assert "invalid duration '1w'" in bad_duration.stderr
    bad_filter = run_lro("purge", "--db", url, "--older-than", "1d", "--filter", "done =")
    assert bad_filter.returncode == 1
    assert "lro: InvalidFilter" in bad_filter.stderr
    missing = run_lro("purge", "--db", url)
    assert missing.returncode == 2
    assert "--older-than" in missing.stderr


def test_lro_worker_purges_with_retention(url: str) -> None:
    with lro.Client(url, worker=False) as client:
        done(client.store, "operations/done")
        running(client.store, "operations/running")
        arguments = ["--db", url, "--app", "tests.durable.process_app:client"]
        process = subprocess.Popen(
            [sys.executable, "-m", "lro.cli", "worker", *arguments, "--retention", "0s"],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert eventually(lambda: names(client.store) == {"operations/running"}, 30)
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        assert "retention: deleted 1 done operations" in stderr
