"""The handler that ``lro worker`` processes run in ``durable_sqlite.py``'s throughput test."""

from __future__ import annotations

import lro

client = lro.Client(worker=False)


@client.resumable("finish")
def finish(op: lro.Operation[object]) -> None:
    """Finish at once: one resumption costs the worker's reads and writes, nothing else."""
    op.done()
