"""create_video / get_video_status through the real MCP client, the real openai client and a sandbox on loopback."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import anyio
import av
import pytest
from mcp import Client, MCPError
from mcp.types import ImageContent, ResourceLink

from sora_mcp.sandbox import SandboxServer
from sora_mcp.server import build_server
from tests.videos_support import (
    CANARY_KEY,
    SORA2_4S,
    error_of,
    provider_settings,
    structured,
    text_of,
    wire_size,
)

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_full_lifecycle(
    mode: str, tmp_path: Path, provider_sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = build_server(provider_settings(tmp_path, provider_sandbox))
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with Client(server, mode=mode) as client:
        created = await client.call_tool(
            "create_video",
            {"prompt": "a red kite over the sea", "video": SORA2_4S, "wait_seconds": 20},
            progress_callback=on_progress,
        )
        job = structured(created)
        assert not created.is_error, text_of(created)
        assert job["status"] == "completed" and job["progress"] == 100
        assert job["backend"].startswith("provider (http://127.0.0.1:")
        assert job["estimated_cost_usd"] == pytest.approx(0.4)
        video = Path(job["files"]["video"])
        assert video.parent == tmp_path / "out" and video.suffix == ".mp4"
        assert str(video) in text_of(created)
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.width, stream.codec_context.height) == (1280, 720)
            assert container.duration is not None and abs(container.duration / 1e6 - 4) < 0.2
        assert Path(job["files"]["thumbnail"]).read_bytes()[:4] == b"RIFF"
        assert Path(job["files"]["spritesheet"]).read_bytes()[:2] == b"\xff\xd8"
        images = [b for b in created.content if isinstance(b, ImageContent)]
        assert len(images) == 1 and images[0].mime_type in ("image/webp", "image/jpeg")
        assert any(isinstance(b, ResourceLink) and b.uri.endswith(".mp4") for b in created.content)
        assert wire_size(created) < 1_000_000

        again = await client.call_tool("get_video_status", {"video_id": job["video_id"], "wait_seconds": 0})
        assert structured(again)["files"] == job["files"]  # downloaded exactly once, remembered

        listed = structured(await client.call_tool("list_videos", {}))
        assert [j["video_id"] for j in listed["jobs"]] == [job["video_id"]]
        assert listed["spent_today_usd"] == pytest.approx(0.4)

        resource = await client.read_resource(f"sora://videos/{job['video_id']}")
        assert json.loads(resource.contents[0].text)["status"] == "completed"  # type: ignore[union-attr]

    assert seen == sorted(set(seen)) and seen[-1] == 100.0
    assert provider_sandbox.state.job_ids == (job["video_id"],)
    assert CANARY_KEY not in caplog.text


async def test_a_short_wait_returns_the_job_and_the_next_call(tmp_path: Path, provider_sandbox: SandboxServer) -> None:
    server = build_server(provider_settings(tmp_path, provider_sandbox))
    async with Client(server) as client:
        created = await client.call_tool(
            "create_video", {"prompt": "slow clouds", "video": SORA2_4S, "wait_seconds": 0}
        )
        job = structured(created)
        assert job["status"] in ("queued", "in_progress")
        assert "get_video_status" in job["next_step"] and job["video_id"] in text_of(created)
        done = structured(await client.call_tool("get_video_status", {"video_id": job["video_id"], "wait_seconds": 20}))
        assert done["status"] == "completed" and Path(done["files"]["video"]).exists()


async def test_a_restarted_server_finishes_the_job(tmp_path: Path, provider_sandbox: SandboxServer) -> None:
    settings = provider_settings(tmp_path, provider_sandbox)
    async with Client(build_server(settings)) as first:
        job = structured(
            await first.call_tool("create_video", {"prompt": "dawn", "video": SORA2_4S, "wait_seconds": 0})
        )
    assert job["status"] in ("queued", "in_progress")
    async with Client(build_server(settings), mode="legacy") as second:  # a new process on the same ledger
        listed = structured(await second.call_tool("list_videos", {}))
        assert [j["video_id"] for j in listed["jobs"]] == [job["video_id"]]
        done = structured(await second.call_tool("get_video_status", {"video_id": job["video_id"], "wait_seconds": 20}))
    assert done["status"] == "completed" and Path(done["files"]["video"]).stat().st_size > 1000
    assert len(provider_sandbox.state.jobs) == 1


async def test_a_lost_create_answer_is_reconciled_not_repeated(tmp_path: Path, provider_sandbox: SandboxServer) -> None:
    provider_sandbox.faults.drop_next_creates = 1
    server = build_server(provider_settings(tmp_path, provider_sandbox))
    async with Client(server) as client:
        result = await client.call_tool(
            "create_video", {"prompt": "a lost answer", "video": SORA2_4S, "wait_seconds": 20}
        )
        job = structured(result)
    assert not result.is_error, text_of(result)
    assert job["status"] == "completed"
    state = provider_sandbox.state
    assert state.job_ids == (job["video_id"],)  # exactly one job exists at the provider
    assert state.billed_seconds == 4  # and it was billed once


async def test_retrieve_faults_are_recovered(tmp_path: Path, provider_sandbox: SandboxServer) -> None:
    faults = provider_sandbox.faults
    faults.routes = frozenset({"retrieve"})
    faults.fail_next_requests = 2
    faults.rate_limit_next = 1
    faults.retry_after_seconds = 0.2
    server = build_server(provider_settings(tmp_path, provider_sandbox))
    async with Client(server) as client:
        result = await client.call_tool("create_video", {"prompt": "storm", "video": SORA2_4S, "wait_seconds": 25})
    assert not result.is_error, text_of(result)
    assert structured(result)["status"] == "completed"
    assert faults.fail_next_requests == 0 and faults.rate_limit_next == 0  # the faults really happened


async def test_over_budget_creates_nothing(tmp_path: Path, provider_sandbox: SandboxServer) -> None:
    server = build_server(provider_settings(tmp_path, provider_sandbox, SORA_MCP_DAILY_BUDGET_USD="0.5"))
    async with Client(server) as client:
        first = await client.call_tool("create_video", {"prompt": "one", "video": SORA2_4S, "wait_seconds": 0})
        assert not first.is_error
        second = await client.call_tool("create_video", {"prompt": "two", "video": SORA2_4S, "wait_seconds": 0})
    assert second.is_error
    failure = error_of(second)
    assert failure["code"] == "budget_exceeded"
    assert "SORA_MCP_DAILY_BUDGET_USD" in failure["message"]
    assert len(provider_sandbox.state.jobs) == 1


async def test_zero_budget_forbids_creating(tmp_path: Path, provider_sandbox: SandboxServer) -> None:
    server = build_server(provider_settings(tmp_path, provider_sandbox, SORA_MCP_DAILY_BUDGET_USD="0"))
    async with Client(server) as client:
        result = await client.call_tool("create_video", {"prompt": "x", "video": SORA2_4S})
    assert result.is_error and "turned off" in text_of(result)
    assert provider_sandbox.state.jobs == ()


async def test_concurrent_creates_never_exceed_the_budget(tmp_path: Path, provider_sandbox: SandboxServer) -> None:
    server = build_server(provider_settings(tmp_path, provider_sandbox, SORA_MCP_DAILY_BUDGET_USD="1.0"))
    results: list[bool] = []
    async with Client(server) as client:

        async def one(i: int) -> None:
            result = await client.call_tool(
                "create_video", {"prompt": f"race {i}", "video": SORA2_4S, "wait_seconds": 0}
            )
            results.append(not result.is_error)

        async with anyio.create_task_group() as group:
            for i in range(6):
                group.start_soon(one, i)
    assert results.count(True) == 2  # 2 x $0.40 fit in $1.00, a third does not
    assert len(provider_sandbox.state.jobs) == 2


async def test_illegal_requests_are_refused_before_any_network_call(
    tmp_path: Path, provider_sandbox: SandboxServer
) -> None:
    server = build_server(provider_settings(tmp_path, provider_sandbox))
    async with Client(server) as client:
        result = await client.call_tool(
            "create_video", {"prompt": "x", "video": {"model": "sora-2", "seconds": "10", "size": "1280x720"}}
        )
        integer = await client.call_tool(
            "create_video",
            {"prompt": "x", "video": {"model": "sora-2", "seconds": 4, "size": "1280x720"}, "wait_seconds": 0},
        )
    assert result.is_error
    failure = error_of(result)
    assert failure["message"] == "Invalid value: '10'. Supported values are: '4', '8', and '12'."
    assert failure["stage"] == "arguments" and failure["param"] == "video.seconds"
    assert failure["nearest_request"] == {"model": "sora-2", "seconds": "12", "size": "1280x720"}
    refused = error_of(integer)  # the schema says string: no lenient guessing, but the exact fix
    assert refused["stage"] == "arguments" and refused["code"] == "invalid_type"
    assert refused["nearest_request"] == {"model": "sora-2", "seconds": "4", "size": "1280x720"}
    assert provider_sandbox.state.jobs == ()


async def test_moderation_failure_says_what_to_change(tmp_path: Path, provider_sandbox: SandboxServer) -> None:
    server = build_server(provider_settings(tmp_path, provider_sandbox))
    async with Client(server) as client:
        result = await client.call_tool(
            "create_video", {"prompt": "a face [blocked]", "video": SORA2_4S, "wait_seconds": 20}
        )
    assert result.is_error
    failure = error_of(result)
    assert failure["job"]["status"] == "failed"
    assert failure["code"] == "moderation_blocked"
    assert "faces" in failure["fix"]


async def test_unknown_video_id_is_a_clear_error(tmp_path: Path, provider_sandbox: SandboxServer) -> None:
    server = build_server(provider_settings(tmp_path, provider_sandbox))
    async with Client(server) as client:
        result = await client.call_tool("get_video_status", {"video_id": "video_nope", "wait_seconds": 0})
    assert result.is_error
    assert error_of(result)["code"] == "not_found"
    assert "list_videos" in text_of(result)
    async with Client(server) as client:
        with pytest.raises(MCPError, match="No video found with id 'video_nope'"):
            await client.read_resource("sora://videos/video_nope")
