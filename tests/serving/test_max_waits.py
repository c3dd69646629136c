"""``max_waits``: past the bound, WaitOperation answers the latest state at once, and
the waits within it still wait (issue 10, F2). Raced on every backend, both servicers."""

from __future__ import annotations

import concurrent.futures
import functools
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import TypeAlias

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import grpc.aio
import pytest

import lro
from lro.serving import AsyncOperationsServicer, OperationsServicer
from lro.serving._auth import AuthArgument
from tests.races import at_once
from tests.serving.conftest import AioServerThread

LIMIT = 3
CALLERS = 8
ROUNDS = 3
SETTLE_SECONDS = 30.0  # a bound on waiting for answers, not a measured time


class BoundedAioServer(AioServerThread):
    """``AioServerThread`` with ``max_waits=LIMIT``."""

    servicer: AsyncOperationsServicer

    async def _start(
        self, client: lro.Client, auth: AuthArgument, tls: grpc.ServerCredentials | None
    ) -> tuple[grpc.aio.Server, str]:
        server = grpc.aio.server()
        self.servicer = AsyncOperationsServicer(client, max_waits=LIMIT)
        self.servicer.add_to_server(server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, f"127.0.0.1:{port}"


Call: TypeAlias = "grpc.Future[operations_pb2.Operation]"
Served = tuple[OperationsServicer | AsyncOperationsServicer, str]


@pytest.fixture(params=["sync", "aio"])
def served(request: pytest.FixtureRequest, client: lro.Client) -> Iterator[Served]:
    """A servicer with ``max_waits=LIMIT`` on a real server, and the server's address."""
    if request.param == "sync":
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=CALLERS + 4))
        servicer = OperationsServicer(client, max_waits=LIMIT)
        servicer.add_to_server(server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        yield servicer, f"127.0.0.1:{port}"
        server.stop(None).wait()
    else:
        aio = BoundedAioServer(client)
        yield aio.servicer, aio.address
        aio.stop()


def test_waits_past_the_bound_answer_at_once(client: lro.Client, served: Served) -> None:
    servicer, address = served
    with grpc.insecure_channel(address) as channel:
        stub = operations_grpc.OperationsStub(channel)
        for _ in range(ROUNDS):
            operation = client.new_operation()
            request = operations_pb2.WaitOperationRequest(name=operation.name)
            calls = at_once(CALLERS, functools.partial(stub.WaitOperation.future, request))
            waits = [call for call in calls if isinstance(call, grpc.Future)]
            assert len(waits) == CALLERS
            answered = _first_answers(waits, CALLERS - LIMIT)
            assert all(not wait.result().done for wait in answered)
            assert servicer.waits.in_flight == LIMIT
            assert not any(wait.done() for wait in waits if wait not in answered)
            operation.done()
            assert all(
                wait.result(timeout=SETTLE_SECONDS).done for wait in waits if wait not in answered
            )
    assert servicer.waits.in_flight == 0


def _first_answers(waits: list[Call], count: int) -> list[Call]:
    """The first ``count`` of ``waits`` to answer (waiting for them, within a bound)."""
    done: list[Call] = []
    lock = threading.Lock()
    finished = concurrent.futures.Future[None]()

    def note(wait: Call) -> None:
        with lock:
            done.append(wait)
            if len(done) == count:
                finished.set_result(None)

    for wait in waits:
        wait.add_done_callback(note)
    finished.result(timeout=SETTLE_SECONDS)
    with lock:
        return done[:count]


@pytest.mark.parametrize("servicer", [OperationsServicer, AsyncOperationsServicer])
def test_max_waits_must_not_be_negative(
    sqlite_client: lro.Client, servicer: type[OperationsServicer | AsyncOperationsServicer]
) -> None:
    with pytest.raises(lro.InvalidArgument, match="max_waits"):
        servicer(sqlite_client, max_waits=-1)
