"""``lro demo``: a service method that returns an operation at once and finishes it later.

The handler reports progress in the operation's metadata, starts two child operations
that other threads finish, and waits for them durably (``resume_at``): the embedded
worker resumes it at ``"children-done"`` once both are done, with its state as saved.
"""

from __future__ import annotations

import dataclasses
import threading
import time

from google.protobuf import json_format, struct_pb2

from lro._client import Client
from lro._operation import Operation

CHILD_SECONDS = (0.2, 0.4)


@dataclasses.dataclass
class ReportState:
    """What the handler keeps between its runs."""

    children: list[str] = dataclasses.field(default_factory=list)
    started: float = 0.0


def _progress(step: str, percent: int) -> struct_pb2.Struct:
    metadata = struct_pb2.Struct()
    metadata.update({"step": step, "percent": percent})
    return metadata


def _finish_child_later(op: Operation[None], seconds: float) -> None:
    """What another worker does: some work, then the child's result."""
    time.sleep(seconds)
    result = struct_pb2.Struct()
    result.update({"child": op.name, "worked_seconds": seconds})
    op.done(result)


def _register(client: Client) -> None:
    @client.resumable("report", state_type=ReportState)
    def report(op: Operation[ReportState]) -> None:
        """The background half of the method, run again at each resume point."""
        if op.resume_point == "":
            op.set_metadata(_progress("starting two children", 10))
            children = []
            for seconds in CHILD_SECONDS:
                child = client.new_operation(metadata=_progress("child queued", 0))
                threading.Thread(target=_finish_child_later, args=(child, seconds)).start()
                children.append(child.name)
            op.state = ReportState(children=children, started=time.time())
            op.set_metadata(_progress("waiting for children", 50))
            op.wait(children=children, timeout=30, resume_at="children-done")
            return
        finished = [client.get_operation(name) for name in op.state.children]
        response = struct_pb2.Struct()
        response.update(
            {
                "children": [child.name for child in finished],
                "all_succeeded": all(not child.HasField("error") for child in finished),
                "seconds": round(time.time() - op.state.started, 3),
            }
        )
        op.done(response, metadata=_progress("done", 100))


def run_demo(url: str) -> int:
    """Run the demo on the store at ``url``; prints the operation as it goes."""
    with Client(url) as client:
        _register(client)
        op = client.start("report")
        print("returned to the caller at once:")
        print(json_format.MessageToJson(op.return_rpc()))
        final = client.wait_operation(op.name, timeout=60)
        print("finished:")
        print(json_format.MessageToJson(final))
        return 0 if final.done and not final.HasField("error") else 1
