"""The shipped workflow, run by a local Workflows interpreter against local HTTP endpoints.

The interpreter (workflows-emulator) has no OIDC, so the ``auth`` blocks are taken out;
everything else runs as written: the sleep, the polling of GetOperation, the deadline,
and the resume call with its headers. It runs in a virtual environment of its own
(``.venv-workflows``, made by the Makefile; ``$LRO_TEST_WORKFLOWS_PYTHON`` names
another interpreter), through ``workflows_interpreter.py``.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from lro._resume.workflows import workflow_argument
from tests.conftest import skip_or_fail

DEFINITION = resources.files("lro._resume").joinpath("alis-managed-operations.workflows.yaml")
INTERPRETER_SCRIPT = Path(__file__).with_name("workflows_interpreter.py")
ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS_PYTHON_ENV = "LRO_TEST_WORKFLOWS_PYTHON"


class Endpoints:
    """GetOperation answers 'done' from the ``done_after``-th poll of each child."""

    def __init__(self, done_after: int) -> None:
        self.done_after = done_after
        self.polls: dict[str, int] = {}
        self.resumes: list[dict[str, str]] = []


@pytest.fixture
def endpoints(request: pytest.FixtureRequest) -> Iterator[tuple[Endpoints, str]]:
    state = Endpoints(done_after=request.param)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path.endswith("/GetOperation"):
                count = state.polls[body["name"]] = state.polls.get(body["name"], 0) + 1
                answer: dict[str, Any] = {"name": body["name"], "done": count >= state.done_after}
            else:
                state.resumes.append({k.lower(): v for k, v in self.headers.items()})
                answer = {}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _without_auth(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _without_auth(value) for key, value in node.items() if key != "auth"}
    if isinstance(node, list):
        return [_without_auth(value) for value in node]
    return node


def _interpreter() -> str:
    python = os.environ.get(WORKFLOWS_PYTHON_ENV) or str(ROOT / ".venv-workflows/bin/python")
    if not Path(python).exists():
        skip_or_fail(
            f"no Workflows interpreter at {python}: make .venv-workflows/.installed "
            f"or set {WORKFLOWS_PYTHON_ENV}"
        )
    return python


def _run(base: str, children: list[str], timeout: int) -> Any:
    workflow = _without_auth(yaml.safe_load(DEFINITION.read_text()))
    argument = workflow_argument(
        "operations/op-1",
        resume_host=base,
        resume_method="/pkg.Service/Run",
        sleep=0,
        children=children,
        poll_frequency=0,
        timeout=timeout,
    )
    finished = subprocess.run(
        [_interpreter(), str(INTERPRETER_SCRIPT)],
        input=json.dumps({"workflow": workflow, "args": argument}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)["result"]


@pytest.mark.parametrize("endpoints", [3], indirect=True)
def test_polls_until_children_are_done_then_resumes(endpoints: tuple[Endpoints, str]) -> None:
    state, base = endpoints
    assert _run(base, ["operations/c1", "operations/c2"], timeout=30) == 200
    assert state.polls == {"operations/c1": 3, "operations/c2": 3}
    assert len(state.resumes) == 1
    assert state.resumes[0]["x-alis-operation-id"] == "op-1"
    assert state.resumes[0]["x-alis-wait-timed-out"] == "false"


@pytest.mark.parametrize("endpoints", [10**9], indirect=True)
def test_a_timed_out_wait_still_resumes(endpoints: tuple[Endpoints, str]) -> None:
    state, base = endpoints
    assert _run(base, ["operations/never"], timeout=1) == 200
    assert state.polls["operations/never"] >= 1
    assert [r["x-alis-wait-timed-out"] for r in state.resumes] == ["true"]


@pytest.mark.parametrize("endpoints", [1], indirect=True)
def test_no_children_resumes_after_the_sleep(endpoints: tuple[Endpoints, str]) -> None:
    state, base = endpoints
    assert _run(base, [], timeout=5) == 200
    assert state.polls == {}
    assert len(state.resumes) == 1
