"""kill -9 in the middle of a long video: a real `sora-mcp serve` over stdio, a standalone sandbox provider."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import time
from pathlib import Path

import anyio
import av
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from sora_mcp.catalog import load_builtin
from sora_mcp.jobs import Ledger, Location
from sora_mcp.sandbox import SandboxConfig, SandboxServer
from tests.videos_support import CANARY_KEY, structured, text_of

pytestmark = pytest.mark.anyio

LONG_36 = {
    "total_seconds": 36,
    "shots": [{"prompt": "a harbour at dawn"}, {"prompt": "boats leave the harbour"}, {"prompt": "open sea"}],
    "model": "sora-2",
    "size": "1280x720",
    "wait_seconds": 0,
}


def serve(home: Path, provider: SandboxServer, pidfile: Path) -> StdioServerParameters:
    script = Path(sys.executable).with_name("sora-mcp")
    command = shlex.join([str(script), "serve"] if script.exists() else [sys.executable, "-m", "sora_mcp", "serve"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "SORA_MCP_"))}
    env.update(
        OPENAI_API_KEY=CANARY_KEY,
        OPENAI_BASE_URL=provider.base_url,
        SORA_MCP_PROFILE="openai",
        SORA_MCP_HOME=str(home / "data"),
        SORA_MCP_OUTPUT_DIR=str(home / "out"),
        HOME=str(home),
    )
    # the shell records the server's pid, then becomes the server (exec), so the pid is the server's own
    return StdioServerParameters(
        command="/bin/sh", args=["-c", f"echo $$ > {shlex.quote(str(pidfile))}; exec {command}"], env=env, cwd="/"
    )


async def finished_segments(ledger_path: Path, plan_id: str) -> int:
    ledger = Ledger(Location.sqlite(ledger_path))
    try:
        segments = await ledger.children("local", plan_id)
    finally:
        await ledger.close()
    return sum(1 for s in segments if s.status == "completed" and s.video_path)


async def test_kill_9_after_segment_2_resumes_without_creating_again(tmp_path: Path) -> None:
    config = SandboxConfig(
        catalog=load_builtin("openai"), api_key=CANARY_KEY, time_scale=0.05, storage_dir=tmp_path / "provider"
    )
    pidfile = tmp_path / "server.pid"
    killed = False
    plan_id = ""
    with SandboxServer(config) as provider:
        params = serve(tmp_path, provider, pidfile)
        with contextlib.suppress(Exception):  # the session dies with its server
            async with Client(params) as first:
                created = await first.call_tool("create_long_video", LONG_36)
                assert not created.is_error, text_of(created)
                plan_id = structured(created)["job_id"]
                deadline = time.monotonic() + 60
                while await finished_segments(tmp_path / "data" / "ledger.sqlite3", plan_id) < 2:
                    assert time.monotonic() < deadline, "segment 2 never finished"
                    await anyio.sleep(0.05)
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
                killed = True
                await anyio.sleep(0.5)
        assert killed and plan_id  # an assertion inside the dead session is not swallowed silently
        creates_at_kill = provider.state.requests["create"]

        async with Client(params) as second:
            for _ in range(10):
                status = await second.call_tool("get_video_status", {"video_id": plan_id, "wait_seconds": 20})
                assert not status.is_error, text_of(status)
                if structured(status)["status"] == "completed":
                    break
        creates = provider.state.requests["create"]

    view = structured(status)
    assert creates_at_kill in (2, 3)  # the third may have been sent just before the kill
    assert creates == 3  # never a segment twice
    assert view["status"] == "completed"
    video = Path(view["files"]["video"])
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 0)
        assert abs(stream.frames / rate - 36.0) <= 1 / rate + 1e-9
        assert container.streams.audio  # sora-2 on this profile always has audio
