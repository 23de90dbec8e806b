"""Two real `sora-mcp serve` processes on one PostgreSQL ledger, both in front of one standalone sandbox process.

What stateless replicas must agree on: the budget (exact across both), one create per admitted job, a job
started through one replica finished and downloaded once through the other, at most one retrieve per second
for a job however many replicas poll it, and nothing lost when a replica is killed with -9 mid-render. The
sandbox counts every request it gets (`/v1/sandbox/ledger`), which is what these tests assert on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters

from tests.videos_support import CANARY_KEY, SORA2_4S, error_of, structured, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

COST = 0.4
"""What SORA2_4S costs under the apiyi profile: a budget of 3 × COST admits exactly 3."""


class Sandbox:
    def __init__(self, process: subprocess.Popen[str], base_url: str) -> None:
        self.process = process
        self.base_url = base_url

    def requests(self) -> dict[str, Any]:
        """What the sandbox has seen: {"create": n, "retrieve": n, "content": n, ...} and the jobs it made."""
        reply = httpx2.get(f"{self.base_url}/sandbox/ledger", headers={"Authorization": f"Bearer {CANARY_KEY}"})
        reply.raise_for_status()
        data: dict[str, Any] = reply.json()
        return data

    def count(self, route: str) -> int:
        return int(self.requests()["requests"].get(route, 0))


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """`sora-mcp sandbox` as its own process: the one provider both replicas talk to."""
    command = [sys.executable, "-m", "sora_mcp.sandbox.command", "sandbox", "--port", "0", "--profile", "apiyi"]
    command += ["--api-key", CANARY_KEY, "--job-seconds", "4", "--time-scale", "0.5"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("sora-mcp sandbox serving"), (line, process.poll())
        yield Sandbox(process, line.split()[3])
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


def _replica(name: str, tmp_path: Path, sandbox: Sandbox, database_url: str, budget: float) -> StdioServerParameters:
    script = Path(sys.executable).with_name("sora-mcp")
    home = tmp_path / name
    env = {
        **os.environ,
        "OPENAI_API_KEY": CANARY_KEY,
        "OPENAI_BASE_URL": sandbox.base_url,
        "SORA_MCP_BACKEND": "provider",
        "SORA_MCP_PROFILE": "apiyi",
        "SORA_MCP_DATABASE_URL": database_url,
        "SORA_MCP_OUTPUT_DIR": str(home / "out"),
        "SORA_MCP_DAILY_BUDGET_USD": str(budget),
    }
    # the home on the command line names the process, so a test can find it to kill it
    return StdioServerParameters(command=str(script), args=["serve", "--home", str(home)], env=env, cwd="/")


def _pid_of(home: Path) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if b"serve" in argv and str(home).encode() in argv:
                    return int(entry.name)
    raise AssertionError(f"no server process for {home}")


@asynccontextmanager
async def replicas(
    tmp_path: Path, sandbox: Sandbox, database_url: str, budget: float = 10.0
) -> AsyncIterator[tuple[Client, Client]]:
    async with (
        Client(_replica("a", tmp_path, sandbox, database_url, budget)) as a,
        Client(_replica("b", tmp_path, sandbox, database_url, budget)) as b,
    ):
        yield a, b


async def test_40_creates_across_two_replicas_under_a_budget_for_3_admit_and_create_exactly_3(
    tmp_path: Path, sandbox: Sandbox, postgres_url: str
) -> None:
    outcomes: list[str] = []
    async with replicas(tmp_path, sandbox, postgres_url, budget=3 * COST) as (a, b):

        async def create(client: Client, n: int) -> None:
            result = await client.call_tool(
                "create_video", {"prompt": f"clip {n}", "video": SORA2_4S, "wait_seconds": 0}
            )
            outcomes.append("admitted" if not result.is_error else error_of(result)["code"])

        async with anyio.create_task_group() as group:
            for n in range(40):
                group.start_soon(create, a if n % 2 else b, n)
        listed_a = structured(await a.call_tool("list_videos", {"limit": 100}))
        listed_b = structured(await b.call_tool("list_videos", {"limit": 100}))
    assert (outcomes.count("admitted"), outcomes.count("budget_exceeded")) == (3, 37)
    assert sandbox.count("create") == 3 and len(sandbox.requests()["jobs"]) == 3
    assert len(listed_a["jobs"]) == len(listed_b["jobs"]) == 3  # one ledger: both see the same three
    assert listed_a["spent_today_usd"] == listed_b["spent_today_usd"] == pytest.approx(3 * COST)


async def test_a_job_created_through_a_is_finished_and_downloaded_once_through_b(
    tmp_path: Path, sandbox: Sandbox, postgres_url: str
) -> None:
    async with replicas(tmp_path, sandbox, postgres_url) as (a, b):
        created = structured(
            await a.call_tool("create_video", {"prompt": "a kite", "video": SORA2_4S, "wait_seconds": 0})
        )
        video_id = created["video_id"]

        calls = 0

        async def poll(client: Client) -> None:  # agents on both replicas ask about the job as fast as they can
            nonlocal calls
            while True:
                calls += 1
                result = await client.call_tool("get_video_status", {"video_id": video_id, "wait_seconds": 0})
                if structured(result)["status"] == "completed":
                    return

        started = time.monotonic()
        async with anyio.create_task_group() as group:
            for n in range(10):
                group.start_soon(poll, a if n % 2 else b)
        polled_for = time.monotonic() - started
        retrieves = sandbox.count("retrieve")
        done = await b.call_tool("get_video_status", {"video_id": video_id, "wait_seconds": 20})
        job = structured(done)
        assert job["status"] == "completed", text_of(done)
        downloads = sandbox.count("content")
        again = structured(await a.call_tool("get_video_status", {"video_id": video_id, "wait_seconds": 0}))
    assert sandbox.count("create") == 1
    assert downloads == sandbox.count("content") == 3  # video, thumbnail, spritesheet: once each, for both replicas
    assert again["status"] == "completed" and again["files"] == job["files"]
    # the poll gate is in the shared ledger: at most one retrieve per second for the job, across both replicas
    assert calls > 5 * retrieves and retrieves <= polled_for + 2, (calls, retrieves, polled_for)


async def test_a_replica_killed_mid_render_loses_nothing(tmp_path: Path, sandbox: Sandbox, postgres_url: str) -> None:
    a_params = _replica("a", tmp_path, sandbox, postgres_url, 10.0)
    async with Client(_replica("b", tmp_path, sandbox, postgres_url, 10.0)) as b:
        with contextlib.suppress(Exception, BaseExceptionGroup):
            async with Client(a_params) as a:
                created = structured(
                    await a.call_tool("create_video", {"prompt": "a fox", "video": SORA2_4S, "wait_seconds": 0})
                )
                assert created["status"] in ("queued", "in_progress")
                os.kill(_pid_of(tmp_path / "a"), signal.SIGKILL)  # mid-render: no cleanup of any kind
                await a.call_tool("list_videos", {})
        seen = structured(await b.call_tool("list_videos", {}))
        assert [j["video_id"] for j in seen["jobs"]] == [created["video_id"]]
        done = await b.call_tool("get_video_status", {"video_id": created["video_id"], "wait_seconds": 20})
    job = structured(done)
    assert job["status"] == "completed" and Path(job["files"]["video"]).stat().st_size > 1000, text_of(done)
    assert sandbox.count("create") == 1 and sandbox.count("content") == 3
