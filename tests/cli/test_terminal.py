"""What the ``lro`` command shows on a terminal (a pseudo-terminal here) and through a
pipe: ``lro wait``'s live line, ``lro list``'s table, ``lro worker``'s summary."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

import google.rpc.status_pb2 as status_pb2
import pytest
from google.protobuf import struct_pb2
from google.rpc import code_pb2

import lro

REPO = Path(__file__).resolve().parents[2]
ESCAPE = "\x1b["


def lro_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "lro.cli", *args]


def progress(percent: float, stage: str) -> struct_pb2.Struct:
    metadata = struct_pb2.Struct()
    metadata.update({"progress_percent": percent, "stage": stage})
    return metadata


class Terminal:
    """A process whose stderr (and stdout unless piped) is a 100-column pseudo-terminal;
    everything it writes there is collected in ``screen``."""

    def __init__(self, command: list[str], *, pipe_stdout: bool = False) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.master = master
        self.process = subprocess.Popen(
            command,
            stdin=slave,
            stdout=subprocess.PIPE if pipe_stdout else slave,
            stderr=slave,
            cwd=REPO,
            text=pipe_stdout,
        )
        os.close(slave)
        self.chunks: list[bytes] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the process closed its end
                    return
                if not chunk:
                    return
                self.chunks.append(chunk)
            elif self.process.poll() is not None and not ready:
                return

    @property
    def screen(self) -> str:
        return b"".join(self.chunks).decode(errors="replace")

    def wait_for(self, check: Callable[[str], bool], timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check(self.screen):
                return self.screen
            time.sleep(0.05)
        raise AssertionError(f"the terminal never showed it; it shows:\n{self.screen}")

    def finish(self, timeout: float = 30) -> int:
        code = self.process.wait(timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.reader.join(5)
        os.close(self.master)
        return code


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/terminal.db"


def test_wait_on_a_terminal_draws_one_live_line_with_a_progress_bar(url: str) -> None:
    with lro.Client(url, worker=False) as client:
        op = client.new_operation(metadata=progress(10, "reading"))
        terminal = Terminal(lro_command("wait", op.name, "--db", url), pipe_stdout=True)
        terminal.wait_for(lambda screen: "reading" in screen)
        op.set_metadata(progress(55, "copying"))
        screen = terminal.wait_for(lambda screen: "copying" in screen)
        op.done()
        assert terminal.process.stdout is not None
        printed = terminal.process.stdout.read()
        assert terminal.finish() == 0
    screen = terminal.screen
    assert "\r\x1b[K" in screen  # the line is redrawn in place
    assert "█" * 11 + "░" * 9 + "]  55%" in screen
    assert "]  55% stage=copying" in screen
    drawings = screen.split("\r\x1b[K")
    assert all("\n" not in drawing for drawing in drawings[:-1])  # one line, redrawn
    assert drawings[-1].startswith("✓")  # then the last state, and a new line
    assert drawings[-1].endswith("\n")
    assert json.loads(printed)["done"] is True  # stdout stays the operation's JSON


def test_wait_through_a_pipe_prints_plain_lines_and_exits_1_when_it_failed(url: str) -> None:
    with lro.Client(url, worker=False) as client:
        op = client.new_operation(metadata=progress(10, "reading"))
        process = subprocess.Popen(
            lro_command("wait", op.name, "--db", url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stderr is not None
        first = process.stderr.readline()  # the command is waiting: now change the operation
        op.set_metadata(progress(60, "copying"))
        second = process.stderr.readline()
        op.error(status_pb2.Status(code=code_pb2.PERMISSION_DENIED, message="no access"))
        stdout, rest = process.communicate(timeout=30)
    assert process.returncode == 1
    stderr = first + second + rest
    assert ESCAPE not in stderr
    lines = stderr.splitlines()
    assert lines[0].split()[1:] == ["running", "10%", "stage=reading"]
    assert lines[-1].split()[1:4] == ["failed", "PERMISSION_DENIED:", "no"]
    assert any("60%" in line for line in lines)
    assert json.loads(stdout)["error"]["code"] == code_pb2.PERMISSION_DENIED


def test_wait_exits_2_when_the_timeout_passes_first(url: str) -> None:
    with lro.Client(url, worker=False) as client:
        op = client.new_operation()
    waited = subprocess.run(
        lro_command("wait", op.name, "--db", url, "--timeout", "0.5"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert waited.returncode == 2, waited.stderr
    assert json.loads(waited.stdout)["name"] == op.name
    assert waited.stderr.split()[1] == "running"


def test_list_prints_a_table_on_a_terminal_and_json_through_a_pipe(url: str) -> None:
    with lro.Client(url, worker=False) as client:
        done = client.new_operation(metadata=progress(100, "written"))
        done.done()
        running = client.new_operation()
    terminal = Terminal(lro_command("list", "--db", url))
    assert terminal.finish() == 0
    table = terminal.screen.replace("\r\n", "\n").splitlines()
    assert table[0].split() == [
        "NAME",
        "STATUS",
        "CODE",
        "CREATED",
        "UPDATED",
        "METADATA",
        "PROGRESS",
    ]
    assert table[1].split()[:3] == [done.name, "done", "OK"]
    assert table[1].split()[-2:] == ["google.protobuf.Struct", "100%"]
    assert table[2].split()[:2] == [running.name, "running"]
    assert table[1].index("done") == table[2].index("running")  # aligned columns
    piped = subprocess.run(
        lro_command("list", "--db", url), capture_output=True, text=True, check=True
    )
    assert [json.loads(line)["name"] for line in piped.stdout.splitlines()] == [
        done.name,
        running.name,
    ]
    forced = subprocess.run(
        lro_command("list", "--db", url, "--output", "table"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert forced.stdout.splitlines()[0].startswith("NAME")
    as_json = Terminal(lro_command("list", "--db", url, "--output", "json"))
    assert as_json.finish() == 0
    assert json.loads(as_json.screen.splitlines()[0])["name"] == done.name


def test_worker_prints_a_summary_line_on_a_terminal(url: str, tmp_path: Path) -> None:
    with lro.Client(url, worker=False) as client:
        command = lro_command(
            "worker",
            "--db",
            url,
            "--app",
            "tests.cli.terminal_app:client",
            "--summary-every",
            "0.3",
            "--max-attempts",
            "1",
        )
        terminal = Terminal(command)
        terminal.wait_for(lambda screen: "handlers: broken, quick" in screen)
        for _ in range(3):
            client.start("quick", registered_elsewhere=True)
        client.start("broken", registered_elsewhere=True)
        terminal.wait_for(lambda screen: "claimed 4, finished 3, failed 1" in screen)
        terminal.process.send_signal(signal.SIGTERM)
        assert terminal.finish() == 0
    lines = terminal.screen.splitlines()
    assert any(line.startswith("lro worker: claimed") and "lag mean" in line for line in lines)
    assert "stopped; claimed 4, finished 3, failed 1" in terminal.screen


def test_worker_prints_no_summary_through_a_pipe(url: str) -> None:
    process = subprocess.Popen(
        lro_command(
            "worker",
            "--db",
            url,
            "--app",
            "tests.cli.terminal_app:client",
            "--summary-every",
            "0.2",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    time.sleep(1.5)
    process.send_signal(signal.SIGTERM)
    stdout, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert len(stdout.splitlines()) == 1  # the start line only
