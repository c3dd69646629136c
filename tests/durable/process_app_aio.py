"""An ``lro.aio.Client`` app for ``lro worker``: one ``async def`` handler."""

from __future__ import annotations

import asyncio

from google.protobuf import wrappers_pb2

import lro.aio

client = lro.aio.Client(worker=False)


@client.resumable("napper", state_type=dict)
async def napper(op: lro.aio.Operation[dict[str, float]]) -> None:
    """Sleep durably, then finish with the name of the loop's running task."""
    if op.resume_point == "":
        await op.wait(sleep=(await op.get_state())["sleep"], resume_at="after")
        return
    await asyncio.sleep(0)
    task = asyncio.current_task()
    await op.done(wrappers_pb2.StringValue(value=f"on the loop: {task is not None}"))
