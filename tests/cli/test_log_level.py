"""``lro worker --log-level`` and ``lro serve --log-level``, in real processes."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

import lro
from tests.commands import run_lro
from tests.damage import damage_operation
from tests.durable.conftest import eventually

APP = """
import lro

client = lro.Client(worker=False)


@client.resumable("broken")
def broken(op):
    raise ValueError("the downstream said no")


@client.resumable("fine")
def fine(op):
    op.done()
"""


def _run_worker(tmp_path: Path, url: str, level: str | None) -> str:
    """Run ``lro worker`` on one failing and one finishing operation; its stderr."""
    (tmp_path / "log_level_app.py").write_text(APP)
    with lro.Client(url, worker=False) as producer:
        failing = producer.start("broken", registered_elsewhere=True)
        finishing = producer.start("fine", registered_elsewhere=True)
        command = [sys.executable, "-m", "lro.cli", "worker", "--db", url]
        command += ["--app", "log_level_app:client", "--max-attempts", "2"]
        command += ["--retry-delay", "0.01", "--poll-interval", "0.05"]
        command += [] if level is None else ["--log-level", level]
        with subprocess.Popen(
            command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        ) as worker:
            try:
                names = [failing.name, finishing.name]
                assert eventually(
                    lambda: all(o.done for o in map(producer.get_operation, names)), 30
                )
            finally:
                worker.send_signal(signal.SIGTERM)
                _, stderr = worker.communicate(timeout=30)
        assert worker.returncode == 0, stderr
    assert f"{failing.name}: the handler 'broken' failed" in stderr
    return stderr


def test_worker_logs_at_info_by_default(tmp_path: Path) -> None:
    stderr = _run_worker(tmp_path, f"sqlite:///{tmp_path}/w.db", None)
    assert re.search(r" WARNING lro\.worker: .*attempt 1 of 2", stderr)
    assert re.search(r" ERROR lro\.worker: .*attempt 2 of 2", stderr)
    assert stderr.count("Traceback (most recent call last)") == 2
    assert "ValueError: the downstream said no" in stderr
    assert " INFO lro.worker: resuming " in stderr
    assert " DEBUG " not in stderr


def test_worker_log_level_debug_and_error(tmp_path: Path) -> None:
    debug = _run_worker(tmp_path, f"sqlite:///{tmp_path}/d.db", "debug")
    assert " DEBUG lro.worker: claimed " in debug
    error = _run_worker(tmp_path, f"sqlite:///{tmp_path}/e.db", "ERROR")
    assert " ERROR lro.worker: " in error
    assert " WARNING " not in error
    assert " INFO " not in error


def test_a_bad_log_level_is_refused(tmp_path: Path) -> None:
    for command in ("worker", "serve"):
        result = subprocess.run(
            [sys.executable, "-m", "lro.cli", command, "--app", "a:b", "--log-level", "loud"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
        )
        assert result.returncode == 2
        assert "--log-level" in result.stderr


@pytest.mark.parametrize(
    ("options", "logged"),
    [
        ([], False),
        (["--log-level", "info"], False),
        (["--access-log"], True),
        (["--access-log", "--log-level", "error"], True),
    ],
)
def test_serve_access_log(tmp_path: Path, options: list[str], logged: bool) -> None:
    """uvicorn's access log is off unless --access-log turns it on, at any --log-level."""
    command = [sys.executable, "-m", "lro.cli", "serve", "--db", f"sqlite:///{tmp_path}/s.db"]
    command += ["--grpc-port", "0", "--http-port", "0", *options]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as server:
        try:
            assert server.stdout is not None
            server.stdout.readline()
            http = re.fullmatch(r"lro: HTTP on (\S+)\n", server.stdout.readline())
            assert http, "no HTTP address printed"
            answer = requests.get(f"{http.group(1)}/v1/operations", timeout=10)
            assert answer.status_code == 200
        finally:
            server.send_signal(signal.SIGTERM)
            stdout, stderr = server.communicate(timeout=30)
    assert server.returncode == 0, stderr
    assert ("GET /v1/operations" in stdout + stderr) is logged  # uvicorn's access log


def test_a_read_error_is_one_line_and_its_details_come_with_log_level(tmp_path: Path) -> None:
    """A damaged row: ``lro: DataLoss: ...`` alone; ``--log-level`` adds what did not
    decode, from the ``lro.store`` log."""
    url = f"sqlite:///{tmp_path}/lro.db"
    with lro.Client(url, worker=False) as client:
        bad = client.new_operation().name
        damage_operation(client.store, bad)
    line = f"lro: DataLoss: operation {bad!r} is damaged in the store and cannot be read"
    for args in (("get", bad), ("wait", "--timeout", "1", bad), ("cancel", bad)):
        plain = run_lro(*args, "--db", url)
        assert (plain.returncode, plain.stderr) == (1, line + "\n")
        logged = run_lro(*args, "--db", url, "--log-level", "error")
        assert logged.returncode == 1
        *details, last = logged.stderr.splitlines()
        assert last == line
        assert any(f" ERROR lro.store: operation {bad!r} does not decode" in d for d in details)


def test_a_store_error_is_one_line_with_the_reference_of_its_details(tmp_path: Path) -> None:
    """A file that is no database: the line carries a reference, and the log line that
    ``--log-level`` prints carries the same, with the driver's message."""
    (tmp_path / "bad.db").write_bytes(b"not a database, " * 512)
    url = f"sqlite:///{tmp_path}/bad.db"
    for command in (("get", "operations/x"), ("list",), ("purge", "--older-than", "1d")):
        plain = run_lro(*command, "--db", url)
        assert plain.returncode == 1
        refs = re.fullmatch(r"lro: DataLoss: .* \(ref ([0-9a-f]{8})\)\n", plain.stderr)
        assert refs, plain.stderr
        logged = run_lro(*command, "--db", url, "--log-level", "warning")
        *details, last = logged.stderr.splitlines()
        (ref,) = re.fullmatch(r"lro: DataLoss: .* \(ref ([0-9a-f]{8})\)", last).groups()  # type: ignore[union-attr]
        (detail,) = [d for d in details if f"[ref {ref}]" in d]
        assert " WARNING lro.store: " in detail
        assert "file is not a database" in detail
