"""Benchmark: retrieve calls per completed job and completion-to-detection delay, ours vs the SDK's default.

Side by side on one sandbox, all variants at once, each on its own jobs of the same length:
- sdk-default: `client.videos.poll()` without a server hint, i.e. one retrieve every second;
- ours (hint): PollPolicy honouring the provider's `openai-poll-after-ms` (the sandbox sends one);
- ours (no hint): PollPolicy's own backoff from about 2 s to about 15 s (what a provider without progress or
  hint gets, e.g. OpenRouter);
- ours (progress): PollPolicy aiming at the end estimated from the progress rate (ProgressClock);
- openrouter 30 s: the cadence OpenRouter's docs recommend (one retrieve every 30 s);
- 3 agents on one job: three callers polling the same job, the SDK way (independent loops) vs ours (RetrieveGate
  shares one request and spaces requests at least 1 s apart).
Detection delay is measured from the sandbox's scheduled completion time (created + job length).

    python bench/bench_polling.py [--job-seconds 20]     # also: --job-seconds 60 for long renders
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

from sora_mcp.catalog import load_builtin
from sora_mcp.jobs.polling import PollPolicy, ProgressClock, RetrieveGate
from sora_mcp.sandbox import SandboxConfig, SandboxServer
from sora_mcp.videos.provider import JobSnapshot, VideoProvider

KEY = "sk-bench"
JOBS = {
    "sdk-default": 2,
    "ours (hint)": 2,
    "ours (no hint)": 2,
    "ours (progress)": 2,
    "openrouter 30 s": 2,
    "sdk x3 agents": 1,
    "ours x3 agents": 1,
}
"""Variants and how many jobs each polls."""


@dataclass
class Tally:
    calls: int = 0
    delays: list[float] = field(default_factory=list)


async def sdk_default_loop(provider: VideoProvider, video_id: str, tally: Tally, done_at: float) -> None:
    """What `client.videos.poll()` does without a hint: retrieve, sleep 1 s, repeat."""
    while True:
        tally.calls += 1
        snapshot = await provider.retrieve(video_id)
        if snapshot.status in ("completed", "failed"):
            tally.delays.append(time.time() - done_at)
            return
        await anyio.sleep(1.0)


async def fixed_cadence_loop(provider: VideoProvider, video_id: str, tally: Tally, done_at: float) -> None:
    """OpenRouter's documented cadence: retrieve every 30 s."""
    while True:
        tally.calls += 1
        snapshot = await provider.retrieve(video_id)
        if snapshot.status in ("completed", "failed"):
            tally.delays.append(time.time() - done_at)
            return
        await anyio.sleep(30.0)


async def our_loop(
    fetch: Callable[[], Awaitable[JobSnapshot]],
    tally: Tally,
    done_at: float,
    *,
    use_hint: bool,
    use_progress: bool = False,
) -> None:
    policy = PollPolicy()
    clock = ProgressClock()
    attempt = 0
    await anyio.sleep(policy.delay(0))  # the create's answer was the first status: no retrieve right after it
    attempt = 1
    while True:
        snapshot = await fetch()
        if snapshot.status in ("completed", "failed"):
            tally.delays.append(time.time() - done_at)
            return
        if snapshot.status == "in_progress":
            clock.observe(anyio.current_time(), snapshot.progress)
        hint = snapshot.poll_after_ms if use_hint else None
        left = clock.seconds_left(anyio.current_time()) if use_progress else None
        await anyio.sleep(policy.delay(attempt, poll_after_ms=hint, seconds_left=left))
        attempt += 1


async def run(job_seconds: float) -> dict[str, Tally]:
    config = SandboxConfig(catalog=load_builtin("apiyi"), api_key=KEY, time_scale=1.0, job_seconds=job_seconds)
    tallies = {name: Tally() for name in (*JOBS,)}
    with SandboxServer(config) as sandbox:
        provider = VideoProvider.connect(base_url=sandbox.base_url, api_key=KEY)

        async def new_job() -> tuple[str, float]:
            snapshot = await provider.create(model="sora-2", prompt="bench", seconds=4, size="1280x720")
            return snapshot.id, time.time() + config.job_wall_seconds

        async def counted(tally: Tally, video_id: str) -> JobSnapshot:
            tally.calls += 1
            return await provider.retrieve(video_id)

        def ours(
            video_id: str, done: float, name: str, *, use_hint: bool, shared: bool = False, use_progress: bool = False
        ) -> None:
            tally = tallies[name]

            async def fetch() -> JobSnapshot:
                if shared:
                    return await gate.fetch(video_id, lambda: counted(tally, video_id))
                return await counted(tally, video_id)

            group.start_soon(
                functools.partial(our_loop, fetch, tally, done, use_hint=use_hint, use_progress=use_progress)
            )

        gate: RetrieveGate[JobSnapshot] = RetrieveGate(1.0)
        async with anyio.create_task_group() as group:
            for _ in range(2):
                vid, done = await new_job()
                group.start_soon(sdk_default_loop, provider, vid, tallies["sdk-default"], done)
                vid, done = await new_job()
                ours(vid, done, "ours (hint)", use_hint=True)
                vid, done = await new_job()
                ours(vid, done, "ours (no hint)", use_hint=False)
                vid, done = await new_job()
                ours(vid, done, "ours (progress)", use_hint=True, use_progress=True)
                vid, done = await new_job()
                group.start_soon(fixed_cadence_loop, provider, vid, tallies["openrouter 30 s"], done)
            vid, done = await new_job()
            for _ in range(3):
                group.start_soon(sdk_default_loop, provider, vid, tallies["sdk x3 agents"], done)
            vid, done = await new_job()
            for _ in range(3):
                ours(vid, done, "ours x3 agents", use_hint=True, shared=True)
        await provider.close()
    return tallies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job-seconds", type=float, default=20.0)
    args = parser.parse_args()
    tallies = anyio.run(run, args.job_seconds)
    jobs = JOBS
    baseline = tallies["sdk-default"].calls / jobs["sdk-default"]
    print(
        f"job length {args.job_seconds:.0f} s; retrieve calls per completed job (ratio to SDK default), detection delay"
    )
    for name, tally in tallies.items():
        per_job = tally.calls / jobs[name]
        delays = tally.delays or [float("nan")]
        print(
            f"  {name:15s} {per_job:6.1f} calls/job ({per_job / baseline:4.2f}x)   "
            f"delay median {statistics.median(delays):5.2f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
