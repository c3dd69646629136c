"""Failed handler runs are always recorded, whatever their error says, and the worker's
log tells what happened: failures with their tracebacks, claims, resumes, timeouts."""

from __future__ import annotations

import logging
import secrets
import threading

import pytest
from google.rpc import code_pb2

import lro
from lro._core.statuses import MAX_FAILURE_TEXT
from lro._resume.binding import task_pin
from lro._resume.endpoint import Outcome, resume_now
from lro._store.base import WaitPlan
from tests.conftest import fresh_postgres_url
from tests.durable.conftest import eventually

RETRYING = lro.WorkerSettings(
    threads=2, lease=2, poll_interval=0.05, max_attempts=3, retry_delay=0.01
)


def _fail_with(store_url: str, error: Exception) -> tuple[lro.Client, str]:
    """A client whose handler always raises ``error``; returns it and the operation."""
    client = lro.Client(store_url, worker=RETRYING)

    @client.resumable("broken")
    def broken(op: lro.Operation[object]) -> None:
        raise error

    return client, client.start("broken").name


@pytest.mark.parametrize(
    "message",
    ["nul \x00 byte", "undecodable \udcff file", "long " + "x" * 100_000],
    ids=["nul", "surrogate", "long"],
)
def test_any_error_message_is_recorded_and_ends_the_operation(store_url: str, message: str) -> None:
    client, name = _fail_with(store_url, RuntimeError(message))
    try:
        final = client.wait_operation(name, timeout=30)
        record = client.store.get(name)
    finally:
        client.close(grace=5)
    assert final.done, "the failure was never recorded"
    assert final.error.code == code_pb2.UNKNOWN
    assert record.attempts == 3
    assert record.last_error.startswith("UNKNOWN: ")
    assert len(record.last_error) <= MAX_FAILURE_TEXT
    assert "\x00" not in record.last_error
    if message.startswith("nul"):
        assert record.last_error == "UNKNOWN: nul \\x00 byte"
        assert final.error.message == message  # the operation keeps it whole
    if message.startswith("undecodable"):
        assert record.last_error == "UNKNOWN: undecodable \\udcff file"


def _records(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if name in r.getMessage()]


def test_a_retry_logs_a_warning_and_the_last_failure_an_error_with_tracebacks(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="lro")
    client, name = _fail_with(store_url, ValueError("the downstream said no"))
    try:
        assert client.wait_operation(name, timeout=30).done
    finally:
        client.close(grace=5)
    failures = [r for r in _records(caplog, name) if r.levelno >= logging.WARNING]
    assert [r.levelname for r in failures] == ["WARNING", "WARNING", "ERROR"]
    for record in failures:
        assert record.name == "lro.worker"
        assert record.exc_info is not None
        assert record.exc_info[0] is ValueError
        assert "the downstream said no" in caplog.text
    assert "attempt 1 of 3" in failures[0].getMessage()
    assert "attempt 3 of 3" in failures[2].getMessage()
    assert "Traceback" in caplog.text
    assert "in broken" in caplog.text  # the handler's own frame


def test_claims_resumes_and_timeouts_are_logged_with_the_resume_point(
    durable_client: lro.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="lro")
    child = durable_client.new_operation()

    @durable_client.resumable("patient")
    def patient(op: lro.Operation[object]) -> None:
        if op.resume_point == "":
            op.wait(children=[child.name], timeout=0.3, resume_at="after-children")
            return
        op.done()

    name = durable_client.start("patient").name
    assert durable_client.wait_operation(name, timeout=30).done
    mine = _records(caplog, name)
    assert {r.name for r in mine} == {"lro.worker"}
    texts = [(r.levelno, r.getMessage()) for r in mine]
    assert any(level == logging.DEBUG and "claimed" in text for level, text in texts)
    timed_out = [text for level, text in texts if "timed out" in text]
    assert timed_out
    assert "'after-children'" in timed_out[0]
    assert child.name in timed_out[0]
    resumes = [text for level, text in texts if level == logging.INFO and "resuming" in text]
    assert any("resume point ''" in text for text in resumes)
    assert any("resume point 'after-children'" in text for text in resumes)


def test_a_lost_lease_is_logged(store_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lro")
    release = threading.Event()
    settings = lro.WorkerSettings(threads=1, lease=0.3, poll_interval=0.05)
    client = lro.Client(store_url, worker=settings)

    @client.resumable("slow")
    def slow(op: lro.Operation[object]) -> None:
        release.wait(10)

    name = client.start("slow").name
    try:
        assert eventually(lambda: client.store.get_wakeup(name).lease_token != "")  # type: ignore[attr-defined]
        wakeup = client.store.get_wakeup(name)  # type: ignore[attr-defined]
        client.store.release_wakeups([wakeup.lease_token])  # type: ignore[attr-defined]
        assert eventually(lambda: "lost the lease" in caplog.text)
        threading.Event().wait(0.5)  # several renewals: the loss is reported once
    finally:
        release.set()
        client.close(grace=5)
    (lost,) = [r for r in _records(caplog, name) if "lost the lease" in r.getMessage()]
    assert lost.name == "lro.worker"
    assert lost.levelno == logging.INFO


def test_a_lost_listening_connection_is_logged_by_the_store(
    postgres_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    import psycopg

    caplog.set_level(logging.INFO, logger="lro")
    with lro.Client(fresh_postgres_url(postgres_database_url), worker=False) as client:
        listener = client.store._listener  # type: ignore[attr-defined]
        first_pid = listener.backend_pid
        with psycopg.connect(postgres_database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first_pid,))
        assert eventually(lambda: listener.backend_pid not in (None, first_pid))
        assert eventually(lambda: "listening again" in caplog.text)
    store_records = [r for r in caplog.records if r.name == "lro.store"]
    assert [r.levelname for r in store_records] == ["WARNING", "INFO"]
    assert "lost" in store_records[0].getMessage()


def test_the_resume_endpoint_records_any_error_and_logs_its_traceback(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lro")
    with lro.Client(store_url, worker=False) as client:

        @client.resumable("broken")
        def broken(op: lro.Operation[object]) -> None:
            raise RuntimeError("nul \x00 byte")

        name = client.start("broken").name
        token = secrets.token_urlsafe(8)  # as TasksResumer binds a task
        wakeups = client.store
        record = wakeups.get(name)
        plan = WaitPlan(target_kind="handler", target="broken", pinned_to=task_pin(token))
        wakeups.schedule(record, record.version, plan)  # type: ignore[attr-defined]
        for _ in range(2):
            with pytest.raises(lro.Error) as caught:
                resume_now(client, "broken", name, token, max_attempts=3)
            assert caught.value.code == code_pb2.UNKNOWN
        assert resume_now(client, "broken", name, token, max_attempts=3) == Outcome("failed")
        final = client.get_operation(name)
        record = client.store.get(name)
    assert final.error.message == "nul \x00 byte"
    assert (record.attempts, record.last_error) == (3, "UNKNOWN: nul \\x00 byte")
    failures = [r for r in _records(caplog, name) if r.levelno >= logging.WARNING]
    assert [(r.name, r.levelname) for r in failures] == [
        ("lro.resume", "WARNING"),
        ("lro.resume", "WARNING"),
        ("lro.resume", "ERROR"),
    ]
    assert all(r.exc_info is not None and r.exc_info[0] is RuntimeError for r in failures)
