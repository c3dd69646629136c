"""Runs one workflow in the local Workflows interpreter (workflows-emulator).

The interpreter pins an old FastAPI, so it lives in a virtual environment of its own
(``make .venv-workflows/.installed``), and the tests run this script with that
environment's Python: it reads ``{"workflow": ..., "args": ...}`` as JSON on stdin,
validates and runs the workflow, and prints its result as JSON on stdout. It imports
nothing of lro.
"""

from __future__ import annotations

import json
import sys

from workflows_emulator.main import WORKFLOW_SCHEMA, execute_workflow, validate


def main() -> None:
    request = json.load(sys.stdin)
    validate(request["workflow"], WORKFLOW_SCHEMA)
    result = execute_workflow(request["workflow"], {"args": request["args"]})
    json.dump({"result": result}, sys.stdout)


if __name__ == "__main__":
    main()
