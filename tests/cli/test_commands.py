"""The ``lro`` command, run as users run it: a real process on a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lro
from tests.commands import run_lro


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/cli.db"


def test_list_get_cancel_delete(url: str) -> None:
    with lro.Client(url, worker=False) as client:
        first, second, third = (client.new_operation() for _ in range(3))
        first.done()
    listed = run_lro("list", "--db", url, "--page-size", "2")
    assert listed.returncode == 0, listed.stderr
    lines = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [line["name"] for line in lines[:2]] == [first.name, second.name]
    token = lines[2]["nextPageToken"]
    rest = run_lro("list", "--db", url, "--page-token", token)
    assert [json.loads(line)["name"] for line in rest.stdout.splitlines()] == [third.name]
    running = run_lro("list", "--db", url, "--filter", "done = false")
    assert [json.loads(line)["name"] for line in running.stdout.splitlines()] == [
        second.name,
        third.name,
    ]
    cancelled = run_lro("cancel", "--db", url, second.name)
    assert json.loads(cancelled.stdout)["error"]["code"] == 1
    assert run_lro("delete", "--db", url, third.name).returncode == 0
    got = run_lro("get", "--db", url, third.name)
    assert got.returncode == 1
    assert "NotFound" in got.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("get", "not a name"),
        ("list", "--filter", "done ="),
        ("list", "--page-token", "forged"),
        ("list", "--page-size", "-1"),
    ],
)
def test_bad_input_is_a_clear_error(url: str, args: tuple[str, ...]) -> None:
    result = run_lro(*args, "--db", url)
    assert result.returncode == 1
    assert result.stderr.startswith("lro: ")
    assert "Traceback" not in result.stderr
