"""lro.testing as users will use it: durable waits of a day, retries and children, run
in fake time by env.advance and env.run_until_idle, in both faces."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime

import pytest
from google.protobuf import wrappers_pb2

import lro
import lro.aio
import lro.testing

DAY = 86_400


@dataclasses.dataclass
class Job:
    children: list[str] = dataclasses.field(default_factory=list)


def test_a_day_long_sleep_then_two_children_finish_in_fake_time(
    lro_env: lro.testing.Environment,
) -> None:
    client = lro_env.client
    runs: list[tuple[str, datetime.datetime]] = []

    @client.resumable("child", state_type=dict)
    def child(op: lro.Operation[dict[str, int]]) -> None:
        runs.append((f"child {op.state['n']} at {op.resume_point!r}", lro_env.clock.now()))
        if op.resume_point == "":
            op.wait(sleep=60 * op.state["n"], resume_at="slept")
            return
        op.done(wrappers_pb2.Int64Value(value=op.state["n"]))

    @client.resumable("job", state_type=Job)
    def job(op: lro.Operation[Job]) -> None:
        runs.append((f"job at {op.resume_point!r}", lro_env.clock.now()))
        if op.resume_point == "":
            op.wait(sleep=DAY, resume_at="tomorrow")
            return
        if op.resume_point == "tomorrow":
            state = op.state
            state.children = [client.start("child", state={"n": n}).name for n in (1, 2)]
            op.state = state
            op.wait(children=state.children, timeout=3600, resume_at="counted")
            return
        total = 0
        for name in op.state.children:
            value = wrappers_pb2.Int64Value()
            client.unmarshal_operation(name, value)
            total += value.value
        op.done(wrappers_pb2.Int64Value(value=total))

    started = lro_env.clock.now()
    op = client.start("job", state=Job())
    assert not client.get_operation(op.name).done
    assert runs == []  # nothing runs by itself: no background worker

    assert lro_env.run_until_idle() == 1
    assert [what for what, _ in runs] == ["job at ''"]
    assert lro_env.advance(DAY - 1) == 0  # a second early: nothing is due
    assert not client.get_operation(op.name).done

    assert lro_env.advance(1) == 3  # the job at "tomorrow", and each child's first run
    assert runs[1][0] == "job at 'tomorrow'"
    # Wake-ups due at the same time run in no set order.
    assert sorted(what for what, _ in runs[2:]) == ["child 1 at ''", "child 2 at ''"]
    assert runs[1][1] - started == datetime.timedelta(seconds=DAY)
    assert lro_env.advance(60) == 1  # child 1 finishes; the job still waits for child 2
    assert not client.get_operation(op.name).done
    assert lro_env.advance(60) == 2  # child 2 finishes, then the job
    done = client.get_operation(op.name)
    total = wrappers_pb2.Int64Value()
    lro.unmarshal_operation(done, total)
    assert total.value == 3
    assert runs[-1][0] == "job at 'counted'"
    assert lro_env.clock.now() - started == datetime.timedelta(seconds=DAY + 120)


def test_a_handler_that_fails_twice_is_retried_after_its_delays_on_the_clock() -> None:
    # retry_delay 100 s doubling, jittered by at most 20%: the retries fall due within
    # [80, 120] s and then [160, 240] s of each failure.
    settings = lro.WorkerSettings(retry_delay=100, max_retry_delay=1000)
    with lro.testing.Environment(settings=settings) as env:
        attempts: list[int] = []

        @env.client.resumable("flaky")
        def flaky(op: lro.Operation[None]) -> None:
            attempts.append(op.attempts)
            if len(attempts) <= 2:
                raise lro.Unavailable(f"failure {len(attempts)}")
            op.done()

        op = env.client.start("flaky")
        assert env.run_until_idle() == 1
        assert attempts == [0]
        assert env.advance(79.9) == 0  # the first retry is not due yet
        assert env.advance(40.2) == 1  # and at 120.1 s it ran (and failed again)
        assert attempts == [0, 1]
        assert env.advance(159.9) == 0
        assert env.advance(80.2) == 1
        assert attempts == [0, 1, 2]
        finished = env.client.get_operation(op.name)
        assert finished.done
        assert not finished.HasField("error")


def test_the_last_failure_ends_the_operation_with_the_handlers_error() -> None:
    settings = lro.WorkerSettings(max_attempts=2, retry_delay=10)
    with lro.testing.Environment(settings=settings) as env:

        @env.client.resumable("broken")
        def broken(op: lro.Operation[None]) -> None:
            raise lro.InvalidArgument("no good")

        op = env.client.start("broken")
        assert env.run_until_idle() == 1
        assert env.advance(12) == 1
        failed = env.client.get_operation(op.name)
        assert failed.done
        assert failed.error.code == lro.InvalidArgument.code
        assert "no good" in failed.error.message


def test_an_async_handler_sleeps_a_day_and_retries_through_the_aio_client() -> None:
    async def scenario() -> None:
        settings = lro.WorkerSettings(retry_delay=100, max_retry_delay=1000)
        with lro.testing.Environment(settings=settings) as env:
            client = env.aio_client
            seen: list[str] = []

            @client.resumable("child")
            async def child(op: lro.aio.Operation[None]) -> None:
                seen.append("child")
                await op.done(wrappers_pb2.StringValue(value="ok"))

            @client.resumable("nightly", state_type=Job)
            async def nightly(op: lro.aio.Operation[Job]) -> None:
                seen.append(op.resume_point or "start")
                if op.resume_point == "":
                    await op.wait(sleep=DAY, resume_at="night")
                    return
                if op.resume_point == "night":
                    if seen.count("night") == 1:
                        raise lro.Unavailable("the first night fails")
                    names = [(await client.start("child")).name for _ in range(2)]
                    await op.set_state(Job(children=names))
                    await op.wait(children=names, timeout=60, resume_at="children")
                    return
                await op.done()

            op = await client.start("nightly")
            assert await env.run_until_idle_async() == 1
            assert await env.advance_async(DAY - 1) == 0
            assert seen == ["start"]
            assert await env.advance_async(1) == 1  # the night's run fails
            assert await env.advance_async(79) == 0  # its retry is not due yet
            # The retry, the two children, then the last run.
            assert await env.advance_async(42) == 4
            assert seen == ["start", "night", "night", "child", "child", "children"]
            finished = await client.get_operation(op.name)
            assert finished.done
            assert not finished.HasField("error")

    asyncio.run(scenario())


def test_run_until_idle_on_a_running_loop_says_what_to_use() -> None:
    async def scenario(env: lro.testing.Environment) -> None:
        with pytest.raises(lro.FailedPrecondition, match="run_until_idle_async"):
            env.run_until_idle()

    with lro.testing.Environment() as env:
        asyncio.run(scenario(env))


def test_an_in_process_wait_under_the_fake_clock_passes_at_once_and_moves_it(
    lro_env: lro.testing.Environment,
) -> None:
    @lro_env.client.resumable("nap")
    def nap(op: lro.Operation[None]) -> None:
        op.wait(sleep=3600)  # not durable: it would hold the thread for an hour
        op.done()

    before = lro_env.clock.now()
    op = lro_env.client.start("nap")
    assert lro_env.run_until_idle() == 1
    assert lro_env.client.get_operation(op.name).done
    assert lro_env.clock.now() - before == datetime.timedelta(hours=1)


def test_a_handler_that_waits_again_at_once_forever_is_stopped() -> None:
    with lro.testing.Environment(max_runs=20) as env:

        @env.client.resumable("spin")
        def spin(op: lro.Operation[None]) -> None:
            op.wait(resume_at="again")

        env.client.start("spin")
        with pytest.raises(lro.Aborted, match="20 wake-ups ran"):
            env.run_until_idle()


def test_leaving_the_environment_removes_its_store() -> None:
    with lro.testing.Environment() as env:
        env.client.start("nobody", registered_elsewhere=True)
        assert env.path.exists()
    assert not env.path.parent.exists()
    with pytest.raises(lro.Unavailable):
        env.client.get_operation("operations/x")


def test_the_clock_starts_at_the_real_now(lro_env: lro.testing.Environment) -> None:
    real = datetime.datetime.now(datetime.UTC)
    assert abs(lro_env.clock.now() - real) < datetime.timedelta(minutes=1)
