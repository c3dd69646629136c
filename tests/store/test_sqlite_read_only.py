"""A read-only SQLite file: reads (get, list with its page tokens, wait) work, writes
are FailedPrecondition saying so; and the commands that read never make a file."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import pytest

import lro
from lro._store.sql_store import SqliteStore
from tests.commands import run_lro
from tests.serving.conftest import start_sync_server


@pytest.fixture
def made(tmp_path: Path) -> tuple[Path, list[str]]:
    """A database with three operations (the first done), closed."""
    path = tmp_path / "lro.db"
    with lro.Client(f"sqlite:///{path}", worker=False) as client:
        operations = [client.new_operation() for _ in range(3)]
        operations[0].done()
    return path, [operation.name for operation in operations]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def read_only(made: tuple[Path, list[str]]) -> Iterator[tuple[lro.Client, list[str]]]:
    path, names = made
    before = _digest(path)
    with lro.Client(f"sqlite:///{path}?mode=ro", worker=False) as client:
        yield client, names
    assert _digest(path) == before  # nothing was written


def test_reads_work(read_only: tuple[lro.Client, list[str]]) -> None:
    client, names = read_only
    assert client.get_operation(names[0]).done
    page, token = client.list_operations(page_size=2)
    rest, last = client.list_operations(page_size=2, page_token=token)
    assert [op.name for op in page + rest] == names
    assert not last
    assert client.wait_operation(names[0], timeout=0).done
    assert not client.wait_operation(names[1], timeout=0.05).done


def test_writes_are_failed_precondition(read_only: tuple[lro.Client, list[str]]) -> None:
    client, names = read_only
    for write in (
        client.new_operation,
        lambda: client.cancel_operation(names[1]),
        lambda: client.delete_operation(names[1]),
    ):
        with pytest.raises(lro.FailedPrecondition, match="read-only") as raised:
            write()
        assert "sqlite" not in raised.value.message.lower()
    assert not client.get_operation(names[1]).done


def test_served_read_only(read_only: tuple[lro.Client, list[str]]) -> None:
    client, names = read_only
    server, address = start_sync_server(client)
    try:
        with grpc.insecure_channel(address) as channel:
            stub = operations_grpc.OperationsStub(channel)  # type: ignore[no-untyped-call]
            listed = stub.ListOperations(operations_pb2.ListOperationsRequest(page_size=1))
            assert listed.next_page_token
            got = stub.GetOperation(operations_pb2.GetOperationRequest(name=names[0]))
            assert got.done
            with pytest.raises(grpc.RpcError) as raised:
                stub.CancelOperation(operations_pb2.CancelOperationRequest(name=names[1]))
            assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        server.stop(None).wait()


def test_a_read_only_file_that_lacks_a_migration(made: tuple[Path, list[str]]) -> None:
    path, _ = made
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM lro_migrations WHERE number = 7")
    with pytest.raises(lro.FailedPrecondition, match="read-only"):
        lro.SqliteStore(path, mode="ro")
    lro.SqliteStore(path).close()  # a writer brings it up to date
    lro.SqliteStore(path, mode="ro").close()


def _as_nobody(path: Path, name: str) -> list[str]:
    """What a process of user ``nobody`` reads and is told on writing, in a fork (the
    interpreter under /root is not nobody's to start)."""
    account = pwd.getpwnam("nobody")
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root, use the file, report, exit
        os.close(reader)
        lines = []
        try:
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
            with lro.Client(f"sqlite:///{path}", worker=False) as client:
                lines.append(str(client.get_operation(name).done))
                lines.append(str(len(client.list_operations()[0])))
                try:
                    client.new_operation()
                except lro.Error as exc:
                    lines.append(f"{type(exc).__name__} {exc.message}")
        except BaseException as exc:  # reported to the parent
            lines.append(f"failed: {type(exc).__name__}: {exc}")
        os.write(writer, "\n".join(lines).encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as answers:
        output = answers.read()
    os.waitpid(pid, 0)
    return output.splitlines()


def test_a_file_others_may_only_read(made: tuple[Path, list[str]]) -> None:
    """As another user, a 0444 file in a 0555 folder is read-only without ``mode=ro``."""
    made_path, names = made
    if os.geteuid() != 0:
        pytest.skip("needs root to run the check as another user")  # CI runs as root
    folder = Path(tempfile.mkdtemp(prefix="lro-read-only-"))  # in /tmp, which all may cross
    path = folder / "lro.db"
    shutil.copyfile(made_path, path)
    with lro.Client(f"sqlite:///{path}", worker=False) as client:  # imports what it uses
        client.list_operations()
    os.chmod(path, 0o444)
    os.chmod(folder, 0o555)  # noqa: S103 (all may read, none may write: the case)
    try:
        lines = _as_nobody(path, names[0])
    finally:
        shutil.rmtree(folder)  # root may, whatever the modes
    assert lines[:2] == ["True", "3"], lines
    assert lines[2].startswith("FailedPrecondition the database is read-only"), lines


def _lro(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "LRO_DATABASE_URL"}
    return run_lro(*args, cwd=cwd, env=env)


@pytest.mark.parametrize(
    "args",
    [
        ("get", "operations/x"),
        ("list",),
        ("wait", "--timeout", "1", "operations/x"),
        ("cancel", "operations/x"),
        ("delete", "operations/x"),
    ],
)
def test_commands_make_no_database(tmp_path: Path, args: tuple[str, ...]) -> None:
    for db in ((), ("--db", f"sqlite:///{tmp_path}/other.db")):
        result = _lro(tmp_path, *args, *db)
        assert result.returncode == 1
        assert result.stderr.startswith("lro: FailedPrecondition: there is no SQLite database")
        assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_commands_read_a_read_only_file(made: tuple[Path, list[str]]) -> None:
    path, names = made
    url = f"sqlite:///{path}?mode=ro"
    listed = _lro(path.parent, "list", "--db", url)
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 3
    assert _lro(path.parent, "get", "--db", url, names[0]).returncode == 0
    cancelled = _lro(path.parent, "cancel", "--db", url, names[1])
    assert cancelled.returncode == 1
    assert cancelled.stderr.splitlines()[-1].startswith(
        "lro: FailedPrecondition: the database is read-only"
    )


def test_opening_waits_for_a_writer_to_switch_to_wal(tmp_path: Path) -> None:
    """Switching a file to WAL while another connection writes it fails at once, not
    after the busy timeout (as it does when stores open a fresh file together): the
    store retries it until the writer is done."""
    path = tmp_path / "lro.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE other (x)")  # a file in rollback-journal mode
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO other VALUES (1)")
    threading.Timer(0.2, writer.execute, ("COMMIT",)).start()
    try:
        SqliteStore(path).close()
    finally:
        writer.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
