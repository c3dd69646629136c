"""``lro.aio.wait_operation``."""

from __future__ import annotations

import google.longrunning.operations_proto_pb2 as operations_pb2

from lro._core.constants import WAIT_OPERATION_TIMEOUT
from lro._core.durations import Duration, seconds
from lro._core.names import validate_name
from lro._runtime import HasRuntime
from lro._wait import OperationsService, operation_done
from lro.aio._client import Client
from lro.aio._drive import drive_async


async def wait_operation(
    name: str,
    service: OperationsService | HasRuntime | None = None,
    timeout: Duration = WAIT_OPERATION_TIMEOUT,
) -> operations_pb2.Operation:
    """Wait until operation ``name`` is done and return it; see ``lro.wait_operation``.

    ``service`` may also be an ``lro.aio.Client`` or a ``grpc.aio`` Operations stub.
    """
    validate_name(name)
    limit = seconds(timeout, "timeout")
    if service is None:
        async with Client() as client:
            return await wait_operation(name, client, timeout)
    steps, clock = operation_done(name, service, limit)
    executor = service._executor if isinstance(service, Client) else None
    return await drive_async(steps, clock, executor)
