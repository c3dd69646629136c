"""lro for asyncio: ``lro.aio.Client``, ``lro.aio.Operation`` and ``wait_operation``.

The same names as the sync API, as coroutines, over the same core: store calls run in
a bounded thread pool, and waits are woken by the store's change notifications without
holding a thread.
"""

from lro.aio._client import Client
from lro.aio._functions import wait_operation
from lro.aio._operation import Operation

__all__ = ["Client", "Operation", "wait_operation"]
