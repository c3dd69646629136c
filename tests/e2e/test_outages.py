"""Waits ride out an outage of the store, on every backend and every way of waiting.

Each test starts a wait (``op.wait`` for a child, ``client.wait_operation``, or
WaitOperation over ``grpc.server``, ``grpc.aio`` and HTTP), makes the store unreachable,
and goes on only once the waiter has read during the outage and been refused. Then:

- the store comes back and the operation finishes: the wait succeeds;
- the store stays away: the wait fails with ``lro.Unavailable`` (gRPC UNAVAILABLE, HTTP
  503) at its timeout, not before.

The outages are real: a private PostgreSQL server stopped with ``pg_ctl``; a SQLite file
held by another process as while it recovers the log; a private Spanner emulator
stopped (SIGSTOP: it hangs, keeping its data, until SIGCONT) or ended.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import pytest
from google.protobuf import duration_pb2

import lro
from lro.serving import http_app
from tests import spanner_emulator
from tests.background import Background
from tests.conftest import fresh_postgres_url, skip_or_fail
from tests.postgres_server import PrivateServer, running_private_server
from tests.serving.conftest import AioServerThread, UvicornThread, start_sync_server
from tests.sqlite_lock import LockedDatabase

WAYS = ["op.wait", "client.wait_operation", "grpc", "grpc.aio", "http"]
SHORT_TIMEOUT = 5.0  # a wait that the outage outlasts
LONG_TIMEOUT = 120.0  # a wait that outlasts the outage
STORE_THREADS = ("lro-spanner-poller",)  # the store's own reads, not the waiter's

WaitFor = Callable[[str, float], bool]


class Outage(Protocol):
    """A store that a test can make unreachable, and bring back."""

    def client(self) -> contextlib.AbstractContextManager[lro.Client]: ...
    def begin(self, *, for_good: bool) -> None: ...
    def end(self) -> None: ...


class _LocalOutage:
    """An outage of a store that needs nothing special to connect to."""

    url: str

    @contextlib.contextmanager
    def client(self) -> Iterator[lro.Client]:
        with lro.Client(self.url, worker=False) as client:
            yield client


class PostgresOutage(_LocalOutage):
    """A private PostgreSQL server, stopped and started again."""

    def __init__(self, server: PrivateServer) -> None:
        self.server = server
        self.url = fresh_postgres_url(server.url)

    def begin(self, *, for_good: bool) -> None:
        self.server.stop()

    def end(self) -> None:
        self.server.start()


class SqliteOutage(_LocalOutage):
    """A SQLite file that another process holds locked."""

    def __init__(self, path: Path) -> None:
        self.url = f"sqlite:///{path}?busy_timeout_ms=100"
        self.lock = LockedDatabase(path)

    def begin(self, *, for_good: bool) -> None:
        self.lock.lock()

    def end(self) -> None:
        self.lock.unlock()


class SpannerOutage:
    """A private Spanner emulator: stopped (SIGSTOP) and continued, or ended."""

    def __init__(self, emulator: spanner_emulator.PrivateEmulator) -> None:
        self.emulator = emulator
        with emulator.selected():
            spanner_emulator.create_instance()
            spanner_emulator.create_database("outage", [])
        config = lro.SpannerConfig(spanner_emulator.PROJECT, spanner_emulator.INSTANCE, "outage")
        self.url = (
            f"spanner:///projects/{config.project}/instances/{config.instance}/databases/outage"
        )

    @contextlib.contextmanager
    def client(self) -> Iterator[lro.Client]:
        with self.emulator.selected():
            client = lro.Client(self.url, worker=False)
        with client:
            yield client

    def begin(self, *, for_good: bool) -> None:
        if for_good:
            self.emulator.stop()
        else:
            self.emulator.pause()

    def end(self) -> None:
        self.emulator.resume()


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PrivateServer]:
    """A private PostgreSQL server for this module."""
    with running_private_server() as server:
        yield server


@pytest.fixture(params=["postgresql", "sqlite", "spanner"])
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outage]:
    """A store on each backend that the test can take away."""
    if request.param == "postgresql":
        server: PrivateServer = request.getfixturevalue("postgres_server")
        yield PostgresOutage(server)
        if not (server.data / "postmaster.pid").exists():
            server.start()
    elif request.param == "sqlite":
        sqlite = SqliteOutage(tmp_path / "lro.db")
        yield sqlite
        sqlite.end()
    else:
        binary = spanner_emulator.find_emulator()
        if binary is None:
            skip_or_fail("no Spanner emulator ($SPANNER_EMULATOR_BIN or shared/tools)")
        emulator = spanner_emulator.PrivateEmulator(binary)
        try:
            yield SpannerOutage(emulator)
        finally:
            emulator.stop()


class ReadLog:
    """What became of the waiter's reads of one operation: read, and refused."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, store: object, name: str) -> None:
        self.name = name
        self.read = threading.Event()
        self.refused = threading.Event()
        for method in ("get", "get_many"):
            monkeypatch.setattr(store, method, self._recorded(getattr(store, method)))

    def _recorded(self, read: Callable[[object], object]) -> Callable[[object], object]:
        def recorded(argument: object) -> object:
            names = [argument] if isinstance(argument, str) else list(argument)  # type: ignore[call-overload]
            if self.name not in names or threading.current_thread().name in STORE_THREADS:
                return read(argument)
            try:
                result = read(argument)
            except lro.Unavailable:
                self.refused.set()
                raise
            self.read.set()
            return result

        return recorded


def _wait_over_grpc(stub: operations_grpc.OperationsStub, name: str, timeout: float) -> bool:
    request = operations_pb2.WaitOperationRequest(
        name=name, timeout=duration_pb2.Duration(seconds=round(timeout))
    )
    try:
        operation: operations_pb2.Operation = stub.WaitOperation(request, timeout=timeout + 60)
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.UNAVAILABLE:
            raise lro.Unavailable(str(exc)) from exc
        raise
    return operation.done


def _wait_over_http(base_url: str, name: str, timeout: float) -> bool:
    request = urllib.request.Request(
        f"{base_url}/v1/{name}:wait",
        data=json.dumps({"timeout": f"{round(timeout)}s"}).encode(),
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout + 60) as response:
            return bool(json.loads(response.read()).get("done", False))
    except urllib.error.HTTPError as error:
        body = json.loads(error.read())
        if (error.code, body["error"]["status"]) == (503, "UNAVAILABLE"):
            raise lro.Unavailable(body["error"]["message"]) from error
        raise


@contextlib.contextmanager
def _waiting_by(way: str, client: lro.Client) -> Iterator[WaitFor]:
    """A function that waits for an operation ``way``; True if it ended done."""
    if way == "op.wait":
        parent = client.new_operation()
        yield (
            lambda name, timeout: (
                parent.wait(children=[name], timeout=timeout, poll_frequency=0.2)[name].done
            )
        )
    elif way == "client.wait_operation":
        yield lambda name, timeout: client.wait_operation(name, timeout=timeout).done
    elif way == "http":
        server = UvicornThread(http_app(client))
        try:
            yield lambda name, timeout: _wait_over_http(server.url, name, timeout)
        finally:
            server.stop()
    else:
        with _grpc_address(way, client) as address, grpc.insecure_channel(address) as channel:
            stub = operations_grpc.OperationsStub(channel)
            yield lambda name, timeout: _wait_over_grpc(stub, name, timeout)


@contextlib.contextmanager
def _grpc_address(way: str, client: lro.Client) -> Iterator[str]:
    if way == "grpc":
        server, address = start_sync_server(client)
        try:
            yield address
        finally:
            server.stop(None).wait()
    else:
        aio = AioServerThread(client)
        try:
            yield aio.address
        finally:
            aio.stop()


def _start_waiting(
    client: lro.Client, wait_for: WaitFor, timeout: float, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, ReadLog, Background[bool]]:
    """Start a wait for a new operation; return once the waiter has read it."""
    name = client.new_operation().name
    log = ReadLog(monkeypatch, client.store, name)
    waiter = Background(lambda: wait_for(name, timeout))
    assert log.read.wait(30), "the wait never read the operation"
    return name, log, waiter


def _until_refused(client: lro.Client, log: ReadLog, name: str) -> None:
    """Wait until the waiter reads during the outage (a change notice makes it read)."""
    deadline = time.monotonic() + 60
    while not log.refused.wait(0.1):
        assert time.monotonic() < deadline, "the wait never read during the outage"
        client.store.changes.publish(name)


def _finish_once_back(client: lro.Client, name: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            client.new_operation(existing=name).done()
            return
        except lro.Unavailable:
            assert time.monotonic() < deadline, "the store did not come back"
            time.sleep(0.1)


@pytest.mark.parametrize("way", WAYS)
def test_a_wait_rides_out_an_outage_that_ends_in_time(
    outage: Outage, way: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with outage.client() as client, _waiting_by(way, client) as wait_for:
        name, log, waiter = _start_waiting(client, wait_for, LONG_TIMEOUT, monkeypatch)
        outage.begin(for_good=False)
        _until_refused(client, log, name)
        outage.end()
        _finish_once_back(client, name)
        waiter.join(LONG_TIMEOUT)
    assert waiter.error is None
    assert waiter.result is True


@pytest.mark.parametrize("way", WAYS)
def test_a_wait_fails_as_unavailable_at_its_timeout_when_the_outage_lasts(
    outage: Outage, way: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with outage.client() as client, _waiting_by(way, client) as wait_for:
        name, log, waiter = _start_waiting(client, wait_for, SHORT_TIMEOUT, monkeypatch)
        outage.begin(for_good=True)
        _until_refused(client, log, name)
        waiter.join(SHORT_TIMEOUT + 60)
        with contextlib.suppress(RuntimeError):
            outage.end()  # before the client closes
    assert isinstance(waiter.error, lro.Unavailable), waiter.error
    assert waiter.elapsed >= SHORT_TIMEOUT  # it rode the outage out to its deadline
