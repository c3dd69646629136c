"""``lro demo``: a service method that returns an operation and finishes it later."""

from __future__ import annotations

import threading
import time

from google.protobuf import json_format, struct_pb2

from lro._client import Client
from lro._operation import Operation


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


def _handler(client: Client, op: Operation[None]) -> None:
    """The background half of the method: children, progress, a result."""
    try:
        op.set_metadata(_progress("starting two children", 10))
        children = []
        for seconds in (0.2, 0.4):
            child = client.new_operation(metadata=_progress("child queued", 0))
            threading.Thread(target=_finish_child_later, args=(child, seconds)).start()
            children.append(child.name)
        op.set_metadata(_progress("waiting for children", 50))
        finished = op.wait(children=children, timeout=30)
        response = struct_pb2.Struct()
        response.update({"children": sorted(finished)})
        op.done(response, metadata=_progress("done", 100))
    except Exception as exc:
        op.error(exc)


def start_report(client: Client) -> Operation[None]:
    """The service method: create the operation, start the work, return at once."""
    op = client.new_operation(metadata=_progress("queued", 0))
    threading.Thread(target=_handler, args=(client, op)).start()
    return op


def run_demo(url: str) -> int:
    """Run the demo on the store at ``url``; prints the operation as it goes."""
    with Client(url) as client:
        op = start_report(client)
        print("returned to the caller at once:")
        print(json_format.MessageToJson(op.return_rpc()))
        final = client.wait_operation(op.name, timeout=60)
        print("finished:")
        print(json_format.MessageToJson(final))
        return 0 if final.done and not final.HasField("error") else 1
