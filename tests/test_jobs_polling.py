"""Polling delays and the per-job retrieve gate, on a fake monotonic clock (no real waiting)."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

import anyio
import anyio.lowlevel
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sora_mcp.jobs import PollPolicy, RetrieveGate, poll_after_ms


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it (or a test moves it)."""

    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()


# -- PollPolicy --------------------------------------------------------------------------------------------


def test_backoff_goes_from_about_2_to_15_seconds() -> None:
    policy = PollPolicy(jitter=0)
    assert [policy.delay(n) for n in range(8)] == [2.0, 3.0, 4.5, 6.75, 10.125, 15.0, 15.0, 15.0]
    assert policy.delay(10_000) == 15.0  # no overflow on very long waits


def test_the_providers_hint_wins_clamped_to_at_least_one_second() -> None:
    policy = PollPolicy()
    assert policy.delay(0, poll_after_ms=5000) == 5.0
    assert policy.delay(7, poll_after_ms="2500") == 2.5
    assert policy.delay(0, poll_after_ms=0) == 1.0
    assert policy.delay(0, poll_after_ms="250") == 1.0
    assert policy.delay(0, poll_after_ms=10**9) == 60.0
    jitterless = PollPolicy(jitter=0)
    for junk in ("soon", "", "-5", "nan", None):
        assert jitterless.delay(3, poll_after_ms=junk) == 6.75


def test_hint_is_read_from_headers_in_any_case() -> None:
    assert poll_after_ms({"OpenAI-Poll-After-Ms": "3000", "content-type": "application/json"}) == 3000.0
    assert poll_after_ms({"content-type": "application/json"}) is None
    assert poll_after_ms({"openai-poll-after-ms": "x"}) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("inf", None),
        ("-inf", None),
        ("nan", None),
        ("-5", None),
        ("garbage", None),
        ("", None),
        ("1e400", None),
        ("1e300", 3_600_000.0),
        ("100000000", 3_600_000.0),
        ("0", 0.0),
        (" 1500 ", 1500.0),
    ],
)
def test_a_hostile_hint_is_refused_or_capped(value: str, expected: float | None) -> None:
    assert poll_after_ms({"openai-poll-after-ms": value}) == expected
    assert PollPolicy().delay(0, poll_after_ms=value) <= 60.0


def test_jitter_is_deterministic_when_seeded_and_spreads_otherwise() -> None:
    policy = PollPolicy()
    one = [policy.delay(n, rng=random.Random(7)) for n in range(6)]
    two = [policy.delay(n, rng=random.Random(7)) for n in range(6)]
    assert one == two
    assert len({policy.delay(1, rng=random.Random(seed)) for seed in range(20)}) > 10


@given(attempt=st.integers(min_value=0, max_value=200), seed=st.integers(min_value=0, max_value=2**32))
@settings(max_examples=200, deadline=None)
def test_every_delay_stays_within_the_policy_bounds(attempt: int, seed: int) -> None:
    policy = PollPolicy()
    delay = policy.delay(attempt, rng=random.Random(seed))
    base = policy.base_delay(attempt)
    assert policy.min_s <= delay <= policy.max_s
    assert base * 0.9 - 1e-9 <= delay <= min(policy.max_s, base * 1.1) + 1e-9
    assert policy.base_delay(attempt + 1) >= base


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        PollPolicy(initial_s=20, max_s=15)
    with pytest.raises(ValueError):
        PollPolicy(factor=0.5)


# -- RetrieveGate ------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_many_concurrent_callers_share_one_retrieve() -> None:
    clock = FakeClock()
    gate: RetrieveGate[str] = RetrieveGate(clock=clock, sleep=clock.sleep)
    release = anyio.Event()
    calls: list[float] = []

    async def retrieve() -> str:
        calls.append(clock.now)
        await release.wait()
        return f"answer {len(calls)}"

    answers: list[str] = []

    async def ask() -> None:
        answers.append(await gate.fetch("video_1", retrieve))

    async with anyio.create_task_group() as tg:
        for _ in range(25):
            tg.start_soon(ask)
        await anyio.wait_all_tasks_blocked()
        assert len(calls) == 1  # 25 askers, one request in flight
        release.set()
    assert answers == ["answer 1"] * 25
    assert gate.fetches == 1

    clock.now += 0.5
    assert await gate.fetch("video_1", retrieve) == "answer 1"  # within 1 s: the cached answer
    assert len(calls) == 1
    clock.now += 0.5
    assert await gate.fetch("video_1", retrieve) == "answer 2"
    assert calls == [500.0, 501.0]


@pytest.mark.anyio
async def test_jobs_are_gated_independently() -> None:
    clock = FakeClock()
    gate: RetrieveGate[str] = RetrieveGate(clock=clock, sleep=clock.sleep)
    seen: list[str] = []

    def retriever(key: str) -> Callable[[], Awaitable[str]]:
        async def retrieve() -> str:
            seen.append(key)
            return key

        return retrieve

    assert await gate.fetch("a", retriever("a")) == "a"
    assert await gate.fetch("b", retriever("b")) == "b"
    assert await gate.fetch("a", retriever("a")) == "a"
    assert seen == ["a", "b"]
    gate.forget("a")
    assert await gate.fetch("a", retriever("a")) == "a"
    assert seen == ["a", "b", "a"]


@pytest.mark.anyio
async def test_a_failure_reaches_every_waiter_and_the_next_retrieve_waits_out_the_interval() -> None:
    clock = FakeClock()
    gate: RetrieveGate[int] = RetrieveGate(clock=clock, sleep=clock.sleep)
    release = anyio.Event()
    starts: list[float] = []

    async def failing() -> int:
        starts.append(clock.now)
        await release.wait()
        raise ConnectionError("502 from the provider")

    errors: list[BaseException] = []

    async def ask() -> None:
        try:
            await gate.fetch("video_1", failing)
        except ConnectionError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(ask)
        await anyio.wait_all_tasks_blocked()
        release.set()
    assert len(errors) == 5 and len(starts) == 1

    async def working() -> int:
        starts.append(clock.now)
        return 42

    clock.now += 0.25
    assert await gate.fetch("video_1", working) == 42  # waited (on the fake clock) rather than retrieve early
    assert starts == [500.0, 501.0]


@pytest.mark.anyio
async def test_a_cancelled_leader_hands_over_to_a_waiting_caller() -> None:
    clock = FakeClock()
    gate: RetrieveGate[str] = RetrieveGate(clock=clock, sleep=clock.sleep)
    starts: list[float] = []

    async def slow() -> str:
        starts.append(clock.now)
        if len(starts) == 1:
            await anyio.sleep_forever()
        return "fresh"

    result: list[str] = []

    async def follower() -> None:
        result.append(await gate.fetch("video_1", slow))

    leader_scope = anyio.CancelScope()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_run_in, leader_scope, gate.fetch("video_1", slow))
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(follower)
        await anyio.wait_all_tasks_blocked()
        assert len(starts) == 1
        leader_scope.cancel()
    assert result == ["fresh"]
    assert len(starts) == 2 and starts[1] - starts[0] >= 1.0


async def _run_in(scope: anyio.CancelScope, awaitable: Awaitable[object]) -> None:
    with scope:
        await awaitable


@pytest.mark.anyio
async def test_waiting_out_the_interval_ends_even_when_float_rounding_stalls_the_clock() -> None:
    """Regression: at 511.0000001 + 1 the sum rounds down, so "sleep the remainder" never reached 1 s."""
    clock = FakeClock()
    clock.now = 511.00000099999994
    gate: RetrieveGate[int] = RetrieveGate(clock=clock, sleep=clock.sleep)

    async def failing() -> int:
        raise TimeoutError

    async def working() -> int:
        return 7

    with pytest.raises(TimeoutError):
        await gate.fetch("video_1", failing)
    clock.now += 0.5
    with anyio.fail_after(5):
        assert await gate.fetch("video_1", working) == 7
    assert clock.now - 511.00000099999994 == pytest.approx(1.0)


@given(
    steps=st.lists(
        st.tuples(st.floats(min_value=0, max_value=2.5), st.booleans(), st.integers(min_value=1, max_value=4)),
        min_size=1,
        max_size=25,
    )
)
@settings(max_examples=60, deadline=None)
def test_retrieves_of_one_job_are_always_at_least_a_second_apart(steps: list[tuple[float, bool, int]]) -> None:
    async def scenario() -> None:
        clock = FakeClock()
        gate: RetrieveGate[float] = RetrieveGate(clock=clock, sleep=clock.sleep)
        starts: list[float] = []
        ends: list[float] = []

        for gap, fail, callers in steps:
            clock.now += gap

            async def retrieve(fail: bool = fail) -> float:
                starts.append(clock.now)
                await clock.sleep(0.05)  # the request itself takes a little time
                ends.append(clock.now)
                if fail:
                    raise TimeoutError
                return clock.now

            async def ask(retrieve: Callable[[], Awaitable[float]] = retrieve) -> None:
                try:
                    value = await gate.fetch("video_1", retrieve)
                except TimeoutError:
                    return
                assert value in ends  # a real answer, shared or cached, never invented

            async with anyio.create_task_group() as tg:
                for _ in range(callers):
                    tg.start_soon(ask)

        assert starts, "the first caller always retrieves"
        for previous_end, start in zip(ends, starts[1:], strict=False):
            assert start - previous_end >= 1.0 - 1e-9

    anyio.run(scenario)


def test_a_progress_clock_estimates_the_end_from_the_rate() -> None:
    from sora_mcp.jobs.polling import ProgressClock

    clock = ProgressClock()
    assert clock.seconds_left(0.0) is None
    clock.observe(10.0, 5)
    assert clock.seconds_left(10.0) is None  # one reading: no rate yet
    clock.observe(20.0, 25)  # a 10 s span: up to 20.5 % in 10 s, done no sooner than (99.5 - 25) / 2.05 s on
    assert clock.seconds_left(20.0) == pytest.approx(74.5 / 2.05)
    clock.observe(60.0, 85)  # a longer span narrows it
    assert clock.seconds_left(60.0) == pytest.approx(14.5 / (80.5 / 50))
    assert clock.seconds_left(100.0) == 0.0  # overdue
    clock.observe(21.0, 10)  # went backwards (a restarted job): start again
    assert clock.seconds_left(21.0) is None


def test_with_an_estimate_polls_wake_just_before_the_end_then_every_second() -> None:
    policy = PollPolicy()
    assert policy.delay(0, seconds_left=37.5) == pytest.approx(37.5)
    assert policy.delay(5, seconds_left=0.4) == policy.min_s
    assert policy.delay(0, seconds_left=10_000) == policy.max_hint_s  # never sleeps past the hint cap
    assert policy.delay(0, seconds_left=float("nan"), poll_after_ms=3000) == 3.0  # no usable estimate: the hint
