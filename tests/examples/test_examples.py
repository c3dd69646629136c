"""The examples under examples/ run: a FastAPI service and a grpc.aio service."""

from __future__ import annotations

import asyncio
import importlib
import json
import socket
import threading
import urllib.request
from pathlib import Path

import grpc.aio
import pytest
import uvicorn
from google.longrunning import operations_grpc_pb2 as operations_grpc
from google.longrunning import operations_proto_pb2 as operations_pb2
from google.protobuf import duration_pb2, struct_pb2, wrappers_pb2

import lro
import lro.aio


def _post(url: str, body: bytes = b"") -> dict[str, object]:
    request = urllib.request.Request(url, data=body, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, object] = json.loads(response.read())
        return answer


def test_the_fastapi_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRO_DATABASE_URL", f"sqlite:///{tmp_path}/exports.db")
    module = importlib.reload(importlib.import_module("examples.fastapi_service"))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(module.app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, args=([listener],))
    thread.start()
    try:
        while not server.started and thread.is_alive():
            threading.Event().wait(0.01)
        started = _post(f"{base}/exports/users")
        assert not started.get("done")
        final = _post(f"{base}/v1/{started['name']}:wait", b'{"timeout": "30s"}')
        assert final["done"] is True
        assert final["response"] == {
            "@type": "type.googleapis.com/google.protobuf.Struct",
            "value": {"table": "users", "rows": 42.0},
        }
    finally:
        server.should_exit = True
        thread.join(30)
        listener.close()


def test_the_grpc_aio_service(tmp_path: Path) -> None:
    from examples.grpc_aio_service import START_METHOD, serve

    async def main() -> None:
        async with lro.aio.Client(f"sqlite:///{tmp_path}/grpc.db") as client:
            server, port = await serve(client)
            try:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                    start = channel.unary_unary(
                        START_METHOD,
                        request_serializer=wrappers_pb2.StringValue.SerializeToString,
                        response_deserializer=operations_pb2.Operation.FromString,
                    )
                    started = await start(wrappers_pb2.StringValue(value="orders"))
                    assert not started.done
                    stub = operations_grpc.OperationsStub(channel)  # type: ignore[no-untyped-call]
                    final = await stub.WaitOperation(
                        operations_pb2.WaitOperationRequest(
                            name=started.name, timeout=duration_pb2.Duration(seconds=30)
                        )
                    )
            finally:
                await server.stop(None)
        result = struct_pb2.Struct()
        lro.unmarshal_operation(final, result)
        assert dict(result) == {"table": "orders", "rows": 42.0}

    asyncio.run(main())
