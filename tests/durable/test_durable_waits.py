"""Durable waits in one process: children, timeouts, another service, retries, shutdown."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from google.longrunning import operations_pb2_grpc
from google.longrunning import operations_proto_pb2 as operations_pb2
from google.protobuf import wrappers_pb2
from google.rpc import code_pb2

import lro
from lro._resume.channels import Channels
from lro._resume.plan import wakeup_store
from lro._resume.run import Resumption
from tests.durable.conftest import FAST, eventually


def _final(client: lro.Client, name: str) -> operations_pb2.Operation:
    final = client.wait_operation(name, timeout=20)
    assert final.done, f"{name} did not finish"
    return final


def _text(operation: operations_pb2.Operation) -> str:
    value = wrappers_pb2.StringValue()
    lro.unmarshal_operation(operation, value)
    return value.value


def test_children_in_this_store_wake_the_parent(durable_client: lro.Client) -> None:
    children = [durable_client.new_operation() for _ in range(3)]

    @durable_client.resumable("parent")
    def parent(op: lro.Operation[object]) -> None:
        if op.resume_point == "children-done":
            finished = durable_client.store.get_many([c.name for c in children])
            done = sum(r.done for r in finished.values())
            op.done(wrappers_pb2.StringValue(value=f"{done}:{op.wait_timed_out}"))
            return
        op.wait(children=[c.name for c in children], timeout=60, resume_at="children-done")

    op = durable_client.start("parent")
    assert eventually(lambda: durable_client.store.get(op.name).resume_point == "children-done")
    for child in children[:2]:
        child.done()
    assert not durable_client.get_operation(op.name).done
    children[2].error(lro.Unavailable("a failed child counts as done"))
    assert _text(_final(durable_client, op.name)) == "3:False"


def test_a_wait_past_its_timeout_resumes_and_says_so(durable_client: lro.Client) -> None:
    slow = durable_client.new_operation()

    @durable_client.resumable("impatient")
    def impatient(op: lro.Operation[object]) -> None:
        if op.resume_point == "after":
            op.done(wrappers_pb2.StringValue(value=f"timed out: {op.wait_timed_out}"))
            return
        op.wait(children=[slow.name], timeout=0.3, poll_frequency=0.05, resume_at="after")

    op = durable_client.start("impatient")
    assert _text(_final(durable_client, op.name)) == "timed out: True"
    assert durable_client.store.get(op.name).wait_timed_out
    assert not durable_client.get_operation(slow.name).done


class _Operations(operations_pb2_grpc.OperationsServicer):
    """A minimal google.longrunning.Operations server over another lro store."""

    def __init__(self, client: lro.Client) -> None:
        self.client = client
        self.calls = 0
        self.fail_next = 0

    def GetOperation(  # noqa: N802
        self, request: operations_pb2.GetOperationRequest, context: grpc.ServicerContext
    ) -> operations_pb2.Operation:
        self.calls += 1
        if self.fail_next:
            self.fail_next -= 1
            context.abort(grpc.StatusCode.UNAVAILABLE, "restarting")
        try:
            return self.client.get_operation(request.name)
        except lro.Error as exc:
            code = next(c for c in grpc.StatusCode if c.value[0] == exc.code)
            context.abort(code, exc.message)


@pytest.fixture
def other_service(tmp_path: Path) -> Iterator[tuple[lro.Client, _Operations, str]]:
    client = lro.Client(f"sqlite:///{tmp_path}/other.db", worker=False)
    servicer = _Operations(client)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    operations_pb2_grpc.add_OperationsServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield client, servicer, f"127.0.0.1:{port}"
    server.stop(None)
    client.close()


def test_children_behind_another_service_are_polled_at_its_endpoint(
    durable_client: lro.Client, other_service: tuple[lro.Client, _Operations, str]
) -> None:
    other, servicer, endpoint = other_service
    children = [other.new_operation() for _ in range(2)]
    servicer.fail_next = 1  # an UNAVAILABLE answer is retried, not fatal

    @durable_client.resumable("remote-parent")
    def parent(op: lro.Operation[object]) -> None:
        if op.resume_point == "remote-done":
            op.done(wrappers_pb2.StringValue(value=f"timed out: {op.wait_timed_out}"))
            return
        op.wait(
            children=[c.name for c in children],
            child_endpoint=endpoint,
            timeout=60,
            poll_frequency=0.2,
            resume_at="remote-done",
        )

    op = durable_client.start("remote-parent")
    assert eventually(lambda: servicer.calls >= 4)
    assert not durable_client.get_operation(op.name).done
    for child in children:
        child.done()
    assert _text(_final(durable_client, op.name)) == "timed out: False"
    # Backed off: far fewer polls than one per 50 ms tick for each child.
    assert servicer.calls < 60


def test_a_sync_wait_polls_a_child_endpoint_too(
    durable_client: lro.Client, other_service: tuple[lro.Client, _Operations, str]
) -> None:
    other, _, endpoint = other_service
    child = other.new_operation()
    threading.Timer(0.2, child.done).start()
    finished = durable_client.new_operation().wait(
        children=[child.name], child_endpoint=endpoint, timeout=10
    )
    assert finished[child.name].done


def test_a_failing_handler_is_retried_then_the_operation_ends_with_its_error(
    store_url: str,
) -> None:
    settings = lro.WorkerSettings(
        threads=2, lease=2, poll_interval=0.05, max_attempts=3, retry_delay=0.01
    )
    with lro.Client(store_url, worker=settings) as client:
        runs: list[int] = []

        @client.resumable("flaky")
        def flaky(op: lro.Operation[object]) -> None:
            runs.append(op.attempts)
            raise lro.Unavailable(f"backend down (run {len(runs)})")

        op = client.start("flaky")
        final = _final(client, op.name)
        record = client.store.get(op.name)
    assert runs == [0, 1, 2]
    assert final.error.code == code_pb2.UNAVAILABLE
    assert final.error.message == "backend down (run 3)"
    assert record.attempts == 3
    assert record.last_error == "UNAVAILABLE: backend down (run 3)"


def test_a_handler_that_fails_once_then_succeeds_keeps_the_record_of_it(
    durable_client: lro.Client,
) -> None:
    @durable_client.resumable("once")
    def once(op: lro.Operation[object]) -> None:
        if op.attempts == 0:
            raise ValueError("first run fails")
        op.done()

    op = durable_client.start("once")
    final = _final(durable_client, op.name)
    record = durable_client.store.get(op.name)
    assert not final.HasField("error")
    assert (record.attempts, record.last_error) == (1, "UNKNOWN: first run fails")


def test_a_handler_resumed_twice_cannot_finish_the_operation_twice(store_url: str) -> None:
    # Two runs of the same wake-up at once (the first lease ran out while its handler
    # was still running): both handlers reach done(); exactly one succeeds.
    client = lro.Client(store_url, worker=False)
    inside = threading.Barrier(2, timeout=10)
    finished: list[str] = []
    refused: list[str] = []

    @client.resumable("twice")
    def twice(op: lro.Operation[object]) -> None:
        inside.wait()
        try:
            op.done()
            finished.append(threading.current_thread().name)
        except lro.OperationAlreadyDone:
            refused.append(threading.current_thread().name)
            raise

    op = client.start("twice")
    store = wakeup_store(client.store)
    first = store.claim_wakeups("a", lease_us=1, limit=1, handlers=["twice"], pinned_to="")
    assert eventually(
        lambda: bool(
            store.claim_wakeups("b", lease_us=10**7, limit=1, handlers=["twice"], pinned_to="")
            and first
        )
    )
    second = store.get_wakeup(op.name)
    assert second is not None
    assert second.lease_token != first[0].lease_token
    resumption = Resumption(client, store, Channels(), FAST.run_settings())
    threads = [
        threading.Thread(target=resumption.run, args=(w,), name=n)
        for w, n in ((first[0], "a"), (second, "b"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    record = store.get(op.name)
    assert len(finished) == 1
    assert len(refused) == 1
    assert record.done
    assert (record.attempts, record.last_error) == (0, "")  # the refusal is no failure
    assert store.get_wakeup(op.name) is None
    client.close()


def test_close_lets_a_running_handler_finish(store_url: str) -> None:
    started = threading.Event()
    client = lro.Client(store_url, worker=FAST)

    @client.resumable("slow")
    def slow(op: lro.Operation[object]) -> None:
        started.set()
        threading.Event().wait(0.3)
        op.done()

    op = client.start("slow")
    assert started.wait(10)
    client.close(grace=10)
    with lro.Client(store_url, worker=False) as reader:
        assert reader.get_operation(op.name).done
        assert reader.store.get_wakeup(op.name) is None  # type: ignore[attr-defined]


def test_close_releases_the_lease_of_a_handler_past_the_grace(store_url: str) -> None:
    started, release = threading.Event(), threading.Event()
    client = lro.Client(store_url, worker=FAST)

    @client.resumable("stuck")
    def stuck(op: lro.Operation[object]) -> None:
        started.set()
        release.wait(10)

    op = client.start("stuck")
    assert started.wait(10)
    client.close(grace=0.1)
    release.set()
    with lro.Client(store_url, worker=False) as reader:
        wakeup = reader.store.get_wakeup(op.name)  # type: ignore[attr-defined]
        assert wakeup is not None
        assert (wakeup.lease_owner, wakeup.lease_expires_us) == ("", 0)


def test_workers_leave_handlers_they_do_not_know(store_url: str) -> None:
    with lro.Client(store_url, worker=FAST) as client:
        ran = threading.Event()

        @client.resumable("known")
        def known(op: lro.Operation[object]) -> None:
            ran.set()
            op.done()

        op = client.start("registered-elsewhere", state={"k": 1}, registered_elsewhere=True)
        # Due after the unknown one: a claim takes due wake-ups earliest first, so once
        # this one has run, the worker has passed over the other.
        client.start("known")
        assert ran.wait(10)
        wakeup = client.store.get_wakeup(op.name)  # type: ignore[attr-defined]
        assert wakeup is not None
        assert wakeup.claims == 0
        assert not client.get_operation(op.name).done


def test_bad_durable_waits_are_refused_clearly(durable_client: lro.Client) -> None:
    op = durable_client.new_operation(callback=lambda _op: None)
    with pytest.raises(lro.InvalidArgument, match="resume_at"):
        op.wait(sleep=1, resume_at="")
    with pytest.raises(lro.InvalidArgument, match="child_endpoint"):
        op.wait(children=[op.name], service=durable_client.new_operation, resume_at="p")  # type: ignore[arg-type]
    with pytest.raises(lro.InvalidArgument, match="endpoint"):
        op.wait(children=[op.name], child_endpoint="a/b/c", resume_at="p")
    with pytest.raises(lro.InvalidArgument, match="children"):
        op.wait(child_endpoint="127.0.0.1:1", resume_at="p")
    with pytest.raises(lro.NotFound):
        op.wait(children=["operations/missing"], resume_at="p")
    with pytest.raises(lro.InvalidOperationName):
        op.wait(children=["nope"], resume_at="p")
    orphan = durable_client.new_operation()
    with pytest.raises(lro.FailedPrecondition, match="nothing to resume it"):
        orphan.wait(sleep=1, resume_at="p")
    orphan.done()
    with pytest.raises(lro.OperationAlreadyDone):
        durable_client.new_operation(existing=orphan.name, callback=print).wait(resume_at="p")
    with pytest.raises(lro.InvalidArgument):
        durable_client.start("")
    with pytest.raises(lro.InvalidArgument):
        durable_client.resumable("")
    durable_client.resumable("taken")(print)
    with pytest.raises(lro.AlreadyExists):
        durable_client.resumable("taken")(print)
    assert durable_client.store.get_wakeup(op.name) is None  # type: ignore[attr-defined]


def test_a_handler_that_neither_finishes_nor_waits_is_reported(
    durable_client: lro.Client, caplog: pytest.LogCaptureFixture
) -> None:
    ran = threading.Event()

    @durable_client.resumable("forgetful")
    def forgetful(op: lro.Operation[object]) -> None:
        ran.set()

    op = durable_client.start("forgetful")
    assert ran.wait(10)
    assert eventually(lambda: durable_client.store.get_wakeup(op.name) is None)  # type: ignore[attr-defined]
    assert eventually(lambda: "returned without finishing" in caplog.text)
    assert op.name in caplog.text
    assert not durable_client.get_operation(op.name).done


def test_a_failing_grpc_resume_call_ends_with_its_code(store_url: str) -> None:
    calls: list[str] = []

    def refuse(request: bytes, context: grpc.ServicerContext) -> bytes:
        calls.append(str(dict(context.invocation_metadata())[lro.OPERATION_ID_HEADER]))
        context.abort(grpc.StatusCode.PERMISSION_DENIED, "no resuming today")
        raise AssertionError("abort raises")

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handler = grpc.unary_unary_rpc_method_handler(refuse)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("test.Svc", {"Resume": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    settings = lro.WorkerSettings(poll_interval=0.05, max_attempts=2, retry_delay=0.01)
    try:
        with lro.Client(store_url, resume_host=f"127.0.0.1:{port}", worker=settings) as client:
            op = client.new_operation(resume_method="/test.Svc/Resume")
            op.wait(sleep=0, resume_at="again")
            final = _final(client, op.name)
            record = client.store.get(op.name)
    finally:
        server.stop(None)
    assert final.error.code == code_pb2.PERMISSION_DENIED
    assert final.error.message == "no resuming today"
    assert (record.attempts, record.last_error) == (2, "PERMISSION_DENIED: no resuming today")
    assert calls == [op.name.removeprefix("operations/")] * 2


def test_a_child_the_other_service_does_not_know_ends_the_wait_with_its_error(
    store_url: str, other_service: tuple[lro.Client, _Operations, str]
) -> None:
    _, _, endpoint = other_service
    settings = lro.WorkerSettings(poll_interval=0.05, max_attempts=2, retry_delay=0.01)
    with lro.Client(store_url, worker=settings) as client:
        op = client.new_operation(callback=lambda resumed: resumed.done())
        op.wait(children=["operations/unknown"], child_endpoint=endpoint, resume_at="p")
        final = _final(client, op.name)
        record = client.store.get(op.name)
    assert final.error.code == code_pb2.NOT_FOUND
    assert record.attempts == 2
    assert record.last_error.startswith("NOT_FOUND: ")


def test_cancelling_a_waiting_operation_removes_its_wakeup(durable_client: lro.Client) -> None:
    resumed: list[str] = []

    @durable_client.resumable("long-wait")
    def long_wait(op: lro.Operation[object]) -> None:
        if op.resume_point:
            resumed.append(op.name)
            op.done()
            return
        op.wait(sleep=0.3, resume_at="later")

    op = durable_client.start("long-wait")
    assert eventually(lambda: durable_client.store.get(op.name).resume_point == "later")
    durable_client.cancel_operation(op.name)
    assert durable_client.store.get_wakeup(op.name) is None  # type: ignore[attr-defined]
    # The same wait, due later: once it has been resumed, and the worker runs nothing
    # more, the cancelled one (due first) would have been resumed too.
    later = durable_client.start("long-wait")
    assert eventually(lambda: later.name in resumed)
    worker = durable_client.start_worker()
    assert eventually(lambda: worker.running == 0)
    assert resumed == [later.name]
    assert durable_client.get_operation(op.name).error.code == code_pb2.CANCELLED


def test_children_in_a_second_lro_server(durable_client: lro.Client, tmp_path: Path) -> None:
    from lro.serving import OperationsServicer

    class Counted(OperationsServicer):
        """The Operations service, counting the GetOperation calls it answered."""

        answered = threading.Semaphore(0)

        def GetOperation(  # noqa: N802
            self, request: operations_pb2.GetOperationRequest, context: grpc.ServicerContext
        ) -> operations_pb2.Operation:
            operation = super().GetOperation(request, context)
            self.answered.release()
            return operation

    other = lro.Client(f"sqlite:///{tmp_path}/second.db", worker=False)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = Counted(other)
    operations_pb2_grpc.add_OperationsServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    endpoint = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    server.start()
    try:
        child = other.new_operation()

        @durable_client.resumable("second-server")
        def parent(op: lro.Operation[object]) -> None:
            if op.resume_point:
                op.done(wrappers_pb2.StringValue(value=f"timed out: {op.wait_timed_out}"))
                return
            op.wait(
                children=[child.name], child_endpoint=endpoint, poll_frequency=0.1, resume_at="p"
            )

        op = durable_client.start("second-server")
        assert eventually(lambda: durable_client.store.get(op.name).resume_point == "p")
        # Polled twice, and told "not done" each time: the first answer was acted on.
        assert servicer.answered.acquire(timeout=10)
        assert servicer.answered.acquire(timeout=10)
        assert not durable_client.get_operation(op.name).done
        child.done(wrappers_pb2.StringValue(value="child result"))
        assert _text(_final(durable_client, op.name)) == "timed out: False"
    finally:
        server.stop(None)
        other.close()


def test_an_unreachable_resume_host_is_retried_without_failing_the_operation(
    store_url: str,
) -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = lro.WorkerSettings(
        poll_interval=0.05, max_attempts=2, retry_delay=0.01, max_retry_delay=0.02
    )
    with lro.Client(store_url, resume_host=f"127.0.0.1:{port}", worker=settings) as client:
        op = client.new_operation(resume_method="/test.Svc/Resume")
        op.wait(resume_at="again")
        assert eventually(lambda: client.store.get(op.name).attempts >= 4)
        record = client.store.get(op.name)
        assert not record.done
        assert record.last_error.startswith("UNAVAILABLE: ")
        assert client.store.get_wakeup(op.name) is not None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "settings",
    [{"threads": 0}, {"max_attempts": 0}, {"lease": 0}, {"poll_interval": -1}],
)
def test_bad_worker_settings_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(lro.InvalidArgument):
        lro.WorkerSettings(**settings)  # type: ignore[arg-type]
