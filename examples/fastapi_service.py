"""A FastAPI service whose endpoint returns a long-running operation at once.

``POST /exports/{table}`` starts the handler ``export`` and returns the operation; the
Operations service (``GET /v1/operations/{id}``, ``POST /v1/operations/{id}:wait``, ...)
is mounted on the same app. Run it with:

    LRO_DATABASE_URL=sqlite:///exports.db uvicorn examples.fastapi_service:app
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from google.protobuf import json_format, struct_pb2

import lro.aio
from lro.serving import http_app

client = lro.aio.Client()  # $LRO_DATABASE_URL, else lro.db; opened by the lifespan


def progress(step: str, percent: int) -> struct_pb2.Struct:
    metadata = struct_pb2.Struct()
    metadata.update({"step": step, "percent": percent})
    return metadata


@client.resumable("export", state_type=dict)
async def export(op: lro.aio.Operation[dict[str, Any]]) -> None:
    """The background half of the endpoint; a worker runs it again at each resume point."""
    state = await op.get_state()
    if op.resume_point == "":
        await op.set_metadata(progress("exporting", 50))
        await op.set_state({**state, "rows": 42})
        await op.wait(sleep=0.1, resume_at="exported")  # durable: survives a restart
        return
    result = struct_pb2.Struct()
    result.update({"table": state["table"], "rows": state["rows"]})
    await op.done(result, metadata=progress("done", 100))


@contextlib.asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    async with client:  # opens the store; handlers run on this loop
        yield


app = FastAPI(lifespan=lifespan)


@app.post("/exports/{table}")
async def start_export(table: str) -> dict[str, Any]:
    """Start an export; returns the operation (AIP-151) at once."""
    op = await client.start("export", state={"table": table})
    operation: dict[str, Any] = json_format.MessageToDict(await op.return_rpc())
    return operation


app.mount("/", http_app(client))
