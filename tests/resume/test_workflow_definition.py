"""The shipped workflow definition: parsed, and checked against the argument lro sends."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import yaml

from lro._resume.workflows import workflow_argument

DEFINITION = resources.files("lro._resume").joinpath("alis-managed-operations.workflows.yaml")


def _steps(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for step in steps:
        ((name, body),) = step.items()
        found[name] = body
        nested = body.get("for", {}).get("steps", []) or body.get("steps", [])
        found.update(_steps(nested))
        for case in body.get("switch", []):
            found.update(_steps(case.get("steps", [])))
    return found


def test_definition_parses_and_its_jumps_land() -> None:
    workflow = yaml.safe_load(DEFINITION.read_text())
    main = workflow["main"]
    assert main["params"] == ["args"]
    steps = _steps(main["steps"])
    targets = {body["next"] for body in steps.values() if "next" in body}
    targets |= {
        case["next"] for body in steps.values() for case in body.get("switch", []) if "next" in case
    }
    assert targets <= steps.keys()
    assert steps["initialWait"]["call"] == "sys.sleep"
    assert steps["resume"]["args"]["headers"]["x-alis-operation-id"] == "${args.operationId}"
    assert steps["resume"]["args"]["auth"] == {
        "type": "OIDC",
        "audience": "${args.resumeEndpointAudience}",
    }


def test_definition_reads_exactly_the_argument_lro_sends() -> None:
    used = set(re.findall(r"args\.(\w+)", DEFINITION.read_text()))
    sent = workflow_argument(
        "operations/x",
        resume_host="https://h",
        resume_method="/S/M",
        sleep=0,
        children=[],
        poll_frequency=1,
        timeout=1,
    )
    assert used == set(sent)
