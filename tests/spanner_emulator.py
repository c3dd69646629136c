"""The Cloud Spanner emulator for tests: found, started on a free port, stopped."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FINDER = ROOT.parent / "shared" / "tools" / "spanner-emulator" / "spanner-emulator"
EMULATOR_ENV = ("SPANNER_EMULATOR_HOST", "SPANNER_DISABLE_BUILTIN_METRICS")
PROJECT = "lro-test"
INSTANCE = "lro-test"


def find_emulator() -> str | None:
    """``$SPANNER_EMULATOR_BIN``, else what ``shared/tools/spanner-emulator`` prints."""
    configured = os.environ.get("SPANNER_EMULATOR_BIN")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    finder = shutil.which("spanner-emulator") or (str(FINDER) if FINDER.exists() else None)
    if finder is None:
        return None
    found = subprocess.run([finder], capture_output=True, text=True, check=False, timeout=120)
    path = found.stdout.strip()
    return path if found.returncode == 0 and path else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Spanner emulator exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("the Spanner emulator did not start listening in time")


@contextmanager
def running_emulator(binary: str) -> Iterator[str]:
    """Run the emulator on a free port; yields its ``host:port``."""
    port = _free_port()
    process = subprocess.Popen(
        [binary, f"--host_port=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process, 30)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


class PrivateEmulator:
    """An emulator of one test's own, which it may pause, resume and stop.

    ``pause`` stops the process (SIGSTOP): it answers nothing and keeps its data, as a
    server that hangs. ``stop`` ends it: connections are refused.
    """

    def __init__(self, binary: str) -> None:
        port = _free_port()
        self.host = f"127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [binary, f"--host_port={self.host}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for_port(port, self.process, 30)
        except RuntimeError:
            self.stop()
            raise

    @contextmanager
    def selected(self) -> Iterator[None]:
        """Inside, Spanner clients made in this process talk to this emulator."""
        saved = {key: os.environ.get(key) for key in EMULATOR_ENV}
        os.environ["SPANNER_EMULATOR_HOST"] = self.host
        os.environ["SPANNER_DISABLE_BUILTIN_METRICS"] = "true"
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def pause(self) -> None:
        """Stop the process where it is (it keeps its connections and data)."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused process go on."""
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """End the process (resumed first, so that it can exit)."""
        if self.process.poll() is None:
            self.resume()
            self.process.terminate()
        self.process.wait(timeout=10)


def create_instance() -> None:
    """Create the test instance on the emulator that ``SPANNER_EMULATOR_HOST`` names."""
    from google.cloud import spanner

    client: Any = spanner.Client(project=PROJECT)
    instance = client.instance(
        INSTANCE,
        configuration_name=f"projects/{PROJECT}/instanceConfigs/emulator-config",
        node_count=1,
    )
    instance.create().result(timeout=60)
    client.close()


def create_database(database_id: str, ddl: list[str], proto_descriptors: bytes = b"") -> None:
    """Create a database with ``ddl`` on the test instance."""
    from google.cloud import spanner

    client: Any = spanner.Client(project=PROJECT)
    database = client.instance(INSTANCE).database(
        database_id, ddl_statements=ddl, proto_descriptors=proto_descriptors or None
    )
    database.create().result(timeout=120)
    client.close()


def operation_descriptors() -> bytes:
    """A FileDescriptorSet with google.longrunning.Operation and what it imports."""
    import google.longrunning.operations_proto_pb2 as operations_pb2
    from google.protobuf import descriptor, descriptor_pb2

    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}

    def add(file: descriptor.FileDescriptor) -> None:
        if file.name in files:
            return
        for dependency in file.dependencies:
            add(dependency)
        files[file.name] = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(files[file.name])

    add(operations_pb2.DESCRIPTOR)
    return descriptor_pb2.FileDescriptorSet(file=list(files.values())).SerializeToString()


def go_table_ddl(table: str, *, v2_columns: bool = True) -> list[str]:
    """The DDL the Go package expects for its operations table."""
    extra = ",\n    Method STRING(MAX),\n    UpdateTime TIMESTAMP" if v2_columns else ""
    return [
        "CREATE PROTO BUNDLE (google.longrunning.Operation)",
        f"""CREATE TABLE {table} (
    key STRING(MAX) NOT NULL AS (Operation.name) STORED,
    Operation google.longrunning.Operation NOT NULL,
    State BYTES(MAX),
    ResumePoint STRING(MAX){extra}
) PRIMARY KEY (key)""",
    ]


def empty_tables(store: Any) -> None:
    """Delete every row of lro's tables (but the migrations') in a Spanner store."""
    database = store._database
    for table in ("lro_operations", "lro_settings", "lro_wakeups", "lro_wakeup_children"):
        database.execute_partitioned_dml(f"DELETE FROM {table} WHERE true")
