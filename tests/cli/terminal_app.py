"""The app of the ``lro worker`` summary test: one handler that finishes at once, and
one that always fails."""

from __future__ import annotations

import lro

client = lro.Client(worker=False)


@client.resumable("quick")
def quick(op: lro.Operation[object]) -> None:
    op.done()


@client.resumable("broken")
def broken(op: lro.Operation[object]) -> None:
    raise lro.Unavailable("the dependency is down")
