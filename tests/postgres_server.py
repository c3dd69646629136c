"""A private PostgreSQL server for tests that stop and start it.

Made with the installed ``initdb`` and ``pg_ctl`` in a temporary folder, on a free
port, so the machine's own server is never disturbed. As root, the binaries run as the
``postgres`` user (the server refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import skip_or_fail


def find_binaries() -> Path | None:
    """The bin folder of the newest installed PostgreSQL with initdb and pg_ctl."""
    found = sorted(
        (Path(path).parent for path in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda folder: int(folder.parent.name) if folder.parent.name.isdigit() else 0,
    )
    on_path = shutil.which("initdb")
    if not found and on_path:
        found = [Path(on_path).parent]
    found = [folder for folder in found if (folder / "pg_ctl").exists()]
    return found[-1] if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateServer:
    """One PostgreSQL server in a temporary folder: ``start``, ``stop``, ``remove``."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="lro-postgres-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, program: str, *args: str) -> None:
        command = [*self._as_user, str(self.binaries / program), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed: {result.stdout}{result.stderr}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self) -> None:
        """Stop the server (fast: open sessions are ended) and wait until it is down."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        """Stop the server if it runs, and delete its folder."""
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def running_private_server() -> Iterator[PrivateServer]:
    """A private server, started, and removed afterwards (skipped without the binaries)."""
    binaries = find_binaries()
    if binaries is None:
        skip_or_fail("no PostgreSQL server binaries (initdb, pg_ctl) are installed")
    server = PrivateServer(binaries)
    try:
        server.start()
        yield server
    finally:
        server.remove()
