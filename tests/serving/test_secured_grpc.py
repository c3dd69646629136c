"""The gRPC servicers over real TLS, with bearer tokens and roles (sync and asyncio)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import google.longrunning.operations_grpc_pb2 as operations_grpc
import google.longrunning.operations_proto_pb2 as operations_pb2
import grpc
import pytest
from google.api_core import exceptions, operations_v1
from google.protobuf import duration_pb2, wrappers_pb2
from google.rpc import code_pb2

import lro
from tests.serving.certificates import Pki
from tests.serving.secured import (
    READ_TOKEN,
    TOKENS,
    WRITE_TOKEN,
    WRONG_TOKEN,
    Served,
    secure_channel,
    server_credentials,
)


@pytest.fixture
def client(sqlite_client: lro.Client) -> lro.Client:
    """Authentication does not touch the store: SQLite is enough here."""
    return sqlite_client


@pytest.fixture(params=["sync", "aio"])
def server_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def address(server_kind: str, client: lro.Client, pki: Pki) -> Iterator[str]:
    served = Served(server_kind, client, TOKENS, server_credentials(pki))
    yield served.address
    served.stop()


def _refused(call: Callable[..., object], *args: object, **kwargs: object) -> grpc.Call:
    """The error of ``call(*args, **kwargs)``, which must fail."""
    with pytest.raises(grpc.RpcError) as raised:
        call(*args, **kwargs)
    error = raised.value
    assert isinstance(error, grpc.Call)
    return error


def test_no_credential_a_wrong_one_or_another_scheme_is_unauthenticated(
    address: str, pki: Pki, client: lro.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "lro")
    op = client.new_operation()
    request = operations_pb2.GetOperationRequest(name=op.name)
    with secure_channel(address, pki) as channel:
        get = operations_grpc.OperationsStub(channel).GetOperation
        assert _refused(get, request).code() == grpc.StatusCode.UNAUTHENTICATED
        for authorization in (f"Bearer {WRONG_TOKEN}", f"Basic {READ_TOKEN}", "Bearer ", "x"):
            error = _refused(get, request, metadata=[("authorization", authorization)])
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            assert WRONG_TOKEN not in (error.details() or "")
    with (
        secure_channel(address, pki, WRONG_TOKEN) as channel,
        pytest.raises(exceptions.Unauthenticated),
    ):
        operations_v1.OperationsClient(channel).get_operation(op.name)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "refused GetOperation" in logged
    assert WRONG_TOKEN not in logged
    assert READ_TOKEN not in logged


def test_a_read_token_reads_but_may_not_cancel_or_delete(
    address: str, pki: Pki, client: lro.Client
) -> None:
    running = client.new_operation()
    finished = client.new_operation()
    finished.done(wrappers_pb2.StringValue(value="ok"))
    with secure_channel(address, pki, READ_TOKEN) as channel:
        api = operations_v1.OperationsClient(channel)
        assert api.get_operation(finished.name).done
        assert {op.name for op in api.list_operations("operations", "")} == {
            running.name,
            finished.name,
        }
        wait = operations_pb2.WaitOperationRequest(
            name=finished.name, timeout=duration_pb2.Duration(seconds=5)
        )
        assert operations_grpc.OperationsStub(channel).WaitOperation(wait).done
        with pytest.raises(exceptions.PermissionDenied, match="needs write"):
            api.cancel_operation(running.name)
        with pytest.raises(exceptions.PermissionDenied):
            api.delete_operation(finished.name)
    assert not client.get_operation(running.name).done
    assert client.get_operation(finished.name).done


def test_a_write_token_cancels_and_deletes(address: str, pki: Pki, client: lro.Client) -> None:
    running = client.new_operation()
    other = client.new_operation()
    with secure_channel(address, pki, WRITE_TOKEN) as channel:
        api = operations_v1.OperationsClient(channel)
        api.cancel_operation(running.name)
        assert api.get_operation(running.name).error.code == code_pb2.CANCELLED
        api.delete_operation(other.name)
    with pytest.raises(lro.NotFound):
        client.get_operation(other.name)


def test_client_certificates_required_and_missing(
    server_kind: str, client: lro.Client, pki: Pki
) -> None:
    served = Served(server_kind, client, TOKENS, server_credentials(pki, client_ca=True))
    op = client.new_operation()
    try:
        with secure_channel(served.address, pki, READ_TOKEN, pki.client) as channel:
            assert operations_v1.OperationsClient(channel).get_operation(op.name).name == op.name
        for certificate in (None, pki.stranger):
            with secure_channel(served.address, pki, READ_TOKEN, certificate) as channel:
                get = operations_grpc.OperationsStub(channel).GetOperation
                request = operations_pb2.GetOperationRequest(name=op.name)
                error = _refused(get, request, timeout=10)
                assert error.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        served.stop()


def test_without_auth_every_call_is_open(server_kind: str, client: lro.Client, pki: Pki) -> None:
    served = Served(server_kind, client, None, server_credentials(pki))
    op = client.new_operation()
    try:
        with secure_channel(served.address, pki) as channel:
            operations_v1.OperationsClient(channel).cancel_operation(op.name)
    finally:
        served.stop()
    assert client.get_operation(op.name).error.code == code_pb2.CANCELLED
