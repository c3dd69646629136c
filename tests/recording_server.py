"""A gRPC server on 127.0.0.1 that records every request and answers from a script.

It stands in for a Google Cloud API at the wire: the client under test sends real
requests over a real channel, and the test reads back exactly what was sent.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from concurrent import futures
from typing import Any

import grpc


@dataclasses.dataclass(frozen=True)
class Recorded:
    """One request as it arrived."""

    method: str
    body: bytes
    metadata: dict[str, str]


class RecordingServer:
    """Serves any method; answers with queued bytes or status codes, then ``default``."""

    def __init__(self, default: bytes = b"") -> None:
        self.requests: list[Recorded] = []
        self.default = default
        self._answers: dict[str, collections.deque[bytes | grpc.StatusCode]] = (
            collections.defaultdict(collections.deque)
        )
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self._server.add_generic_rpc_handlers([_Handler(self)])
        port = self._server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{port}"

    def answer(self, method: str, *answers: bytes | grpc.StatusCode) -> None:
        """Queue answers for ``method`` (a full path such as ``/pkg.Service/Method``)."""
        with self._lock:
            self._answers[method].extend(answers)

    def _next(self, method: str) -> bytes | grpc.StatusCode:
        with self._lock:
            queued = self._answers[method]
            return queued.popleft() if queued else self.default

    def __enter__(self) -> RecordingServer:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None)


class _Handler(grpc.GenericRpcHandler):  # type: ignore[type-arg]
    def __init__(self, server: RecordingServer) -> None:
        self._server = server

    def service(self, handler_call_details: Any) -> Any:
        method = str(handler_call_details.method)
        server = self._server

        def unary(body: bytes, context: grpc.ServicerContext) -> bytes:
            metadata = {key: str(value) for key, value in context.invocation_metadata()}
            server.requests.append(Recorded(method, body, metadata))
            answer = server._next(method)
            if isinstance(answer, grpc.StatusCode):
                context.abort(answer, f"scripted {answer.name}")
            return answer

        return grpc.unary_unary_rpc_method_handler(unary)
