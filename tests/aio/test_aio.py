"""lro.aio in a real event loop: what the sync adapter of the api tests cannot show."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import wrappers_pb2

import lro
import lro.aio

WAITERS = 300


def test_the_constructor_does_no_io_and_async_with_opens(tmp_path: Path) -> None:
    path = tmp_path / "aio.db"

    async def main() -> None:
        client = lro.aio.Client(f"sqlite:///{path}")
        assert not path.exists()
        async with client:
            assert path.exists()
            op = await client.new_operation()
            await op.done()
            assert (await client.get_operation(op.name)).done

    asyncio.run(main())


def test_async_handlers_run_on_the_clients_loop(tmp_path: Path) -> None:
    async def main() -> tuple[object, set[object]]:
        loops: set[object] = set()
        async with lro.aio.Client(f"sqlite:///{tmp_path}/lro.db") as client:

            @client.resumable("step", state_type=dict)
            async def step(op: lro.aio.Operation[dict[str, int]]) -> None:
                loops.add(asyncio.get_running_loop())
                if op.resume_point == "":
                    await op.set_state({"n": 1})
                    await op.wait(sleep=0.05, resume_at="again")
                    return
                state = await op.get_state()
                await op.done(wrappers_pb2.Int32Value(value=state["n"] + 1))

            op = await client.start("step")
            final = await client.wait_operation(op.name, timeout=30)
            assert final.done
            value = wrappers_pb2.Int32Value()
            await client.unmarshal_operation(op.name, value)
            assert value.value == 2
            return asyncio.get_running_loop(), loops

    loop, loops = asyncio.run(main())
    assert loops == {loop}


def test_a_sync_handler_is_refused(tmp_path: Path) -> None:
    client = lro.aio.Client(f"sqlite:///{tmp_path}/lro.db")
    with pytest.raises(lro.InvalidArgument, match="async def"):
        client.resumable("sync")(lambda op: None)  # type: ignore[type-var]


def test_many_waits_hold_no_thread(tmp_path: Path) -> None:
    threads_while_waiting: list[int] = []

    async def main() -> None:
        async with lro.aio.Client(f"sqlite:///{tmp_path}/lro.db") as client:
            children = [await client.new_operation() for _ in range(10)]
            parents = [await client.new_operation() for _ in range(WAITERS)]
            names = [child.name for child in children]
            threads_while_waiting.append(threading.active_count())
            waits = [
                asyncio.create_task(op.wait(children=names, timeout=60, poll_frequency=60))
                for op in parents
            ]
            await asyncio.sleep(0.5)
            threads_while_waiting.append(threading.active_count())
            assert not any(wait.done() for wait in waits)
            store, reads = client.store, []
            read = store.get_many
            store.get_many = lambda names: reads.append(len(names)) or read(names)  # type: ignore[method-assign,func-returns-value]
            for child in children:
                await child.done()
            results = await asyncio.wait_for(asyncio.gather(*waits), 30)
            assert all(set(found) == set(names) for found in results)
            # Each change wakes every waiter; their reads are merged, not one per waiter.
            assert 0 < len(reads) <= 10 * len(children), reads

    asyncio.run(main())
    before, during = threads_while_waiting
    # At most the rest of the store's pool (16 threads), not one thread per waiter.
    assert during - before <= 16


def test_wait_operation_on_an_aio_client_and_timeouts(tmp_path: Path) -> None:
    async def main() -> None:
        async with lro.aio.Client(f"sqlite:///{tmp_path}/lro.db") as client:
            op = await client.new_operation()
            waiting = asyncio.create_task(lro.aio.wait_operation(op.name, client, timeout=30))
            await asyncio.sleep(0.05)
            await op.done()
            assert (await waiting).done
            running = await client.new_operation()
            with pytest.raises(lro.WaitDeadlineExceeded):
                await lro.aio.wait_operation(running.name, client, timeout=0.1)
            assert not (await client.wait_operation(running.name, timeout=0.05)).done

    asyncio.run(main())


def test_an_aio_client_served_by_grpc_aio_and_waited_on_through_an_aio_stub(
    tmp_path: Path,
) -> None:
    import google.longrunning.operations_grpc_pb2 as operations_grpc
    import google.longrunning.operations_proto_pb2 as operations_pb2
    import grpc.aio
    from google.protobuf import duration_pb2

    from lro.serving import AsyncOperationsServicer

    async def main() -> None:
        async with (
            lro.aio.Client(f"sqlite:///{tmp_path}/served.db") as served,
            lro.aio.Client(f"sqlite:///{tmp_path}/waiter.db") as waiter,
        ):
            server = grpc.aio.server()
            AsyncOperationsServicer(served).add_to_server(server)
            port = server.add_insecure_port("127.0.0.1:0")
            await server.start()
            try:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                    stub = operations_grpc.OperationsStub(channel)  # type: ignore[no-untyped-call]
                    child = await served.new_operation()
                    request = operations_pb2.WaitOperationRequest(
                        name=child.name, timeout=duration_pb2.Duration(nanos=50_000_000)
                    )
                    assert not (await stub.WaitOperation(request)).done
                    parent = await waiter.new_operation()
                    waiting = asyncio.create_task(
                        parent.wait(children=[child.name], service=stub, poll_frequency=0.2)
                    )
                    await asyncio.sleep(0.1)
                    await child.done()
                    found = await asyncio.wait_for(waiting, 30)
                    assert found[child.name].done
            finally:
                await server.stop(None)

    asyncio.run(main())


def test_either_face_waits_on_the_other_faces_store(tmp_path: Path) -> None:
    sync_client = lro.Client(f"sqlite:///{tmp_path}/sync.db")

    async def main() -> None:
        async with lro.aio.Client(f"sqlite:///{tmp_path}/aio.db") as aio_client:
            aio_child = await aio_client.new_operation()
            sync_child = sync_client.new_operation()
            parent = await aio_client.new_operation()
            # An aio operation waits on a sync client's store: woken by its notifications.
            waiting = asyncio.create_task(
                parent.wait(children=[sync_child.name], service=sync_client, timeout=30)
            )
            await asyncio.sleep(0.05)
            await asyncio.to_thread(sync_child.done)
            assert (await waiting)[sync_child.name].done
            # And a sync operation waits on an aio client's store.
            finishing = asyncio.get_running_loop().call_later(
                0.05, lambda: asyncio.ensure_future(aio_child.done())
            )
            found = await asyncio.to_thread(
                sync_client.new_operation().wait,
                children=[aio_child.name],
                service=aio_client,
                timeout=30,
            )
            finishing.cancel()
            assert found[aio_child.name].done

    asyncio.run(main())
    sync_client.close()


def test_concurrent_starts_of_one_request_id_share_one_operation(tmp_path: Path) -> None:
    async def main() -> tuple[set[str], list[str], str]:
        runs: list[str] = []
        async with lro.aio.Client(f"sqlite:///{tmp_path}/lro.db") as client:

            @client.resumable("once")
            async def once(op: lro.aio.Operation[None]) -> None:
                runs.append(op.name)
                await op.set_metadata(wrappers_pb2.Int32Value(value=len(runs)))
                await op.done()

            starts = [client.start("once", request_id="r", delay=0.05) for _ in range(16)]
            names = {op.name for op in await asyncio.gather(*starts)}
            (name,) = names
            assert (await client.wait_operation(name, timeout=30)).done
            made = await client.new_operation(id="chosen", request_id="q")
            again = await client.new_operation(id="other", request_id="q")
            assert again.name == made.name == "operations/chosen"
            with pytest.raises(lro.AlreadyExists):
                await client.new_operation(id="chosen")
            count = wrappers_pb2.Int32Value()
            await client.unmarshal_metadata(name, count)
            return names, runs, str(count.value)

    names, runs, count = asyncio.run(main())
    assert runs == list(names)
    assert count == "1"


class _HeldPool(ThreadPoolExecutor):
    """A thread pool that counts the calls handed to it and holds them until released."""

    def __init__(self) -> None:
        super().__init__(4)
        self.calls = 0
        self.release = threading.Event()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.calls += 1

        def held() -> Any:
            self.release.wait(30)
            return fn(*args, **kwargs)

        return super().submit(held)


def test_concurrent_gets_share_one_hop_each_with_its_own_answer(tmp_path: Path) -> None:
    async def main() -> tuple[list[Any], list[str], int]:
        async with lro.aio.Client(f"sqlite:///{tmp_path}/lro.db") as client:
            names = [(await client.new_operation()).name for _ in range(20)]
            asked = [*names, "operations/missing", "operations/nul\x00"]
            pool = client._pool = _HeldPool()
            gets = [asyncio.ensure_future(client.get_operation(name)) for name in asked]
            await asyncio.sleep(0)  # every Get is asked while the first is held
            pool.release.set()
            answers = await asyncio.gather(*gets, return_exceptions=True)
            return answers, names, pool.calls

    answers, names, calls = asyncio.run(main())
    assert [answer.name for answer in answers[:20]] == names
    assert isinstance(answers[20], lro.NotFound)
    assert isinstance(answers[21], lro.InvalidOperationName)
    assert calls == 1


def test_gets_after_the_client_is_closed_fail_and_do_not_hang(tmp_path: Path) -> None:
    async def main() -> None:
        client = lro.aio.Client(f"sqlite:///{tmp_path}/lro.db")
        async with client:
            op = await client.new_operation()
            await client.get_operation(op.name)
        for _ in range(2):
            with pytest.raises(RuntimeError):
                await asyncio.wait_for(client.get_operation(op.name), 5)

    asyncio.run(main())
