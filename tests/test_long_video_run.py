"""create_long_video end to end: the real MCP client, a sandbox provider on loopback, real PyAV files."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from mcp import Client
from numpy.typing import NDArray

from sora_mcp.catalog import load_builtin
from sora_mcp.jobs import JobRecord, Ledger, Location
from sora_mcp.sandbox import SandboxConfig, SandboxServer
from sora_mcp.server import build_server
from sora_mcp.settings import Settings
from tests.videos_support import CANARY_KEY, error_of, structured, text_of

pytestmark = pytest.mark.anyio


async def segments_of(ledger_path: Path, plan_id: str) -> tuple[JobRecord, ...]:
    """The long video's segments as the ledger recorded them (the local tenant's)."""
    ledger = Ledger(Location.sqlite(ledger_path))
    try:
        return await ledger.children("local", plan_id)
    finally:
        await ledger.close()


SHOTS = [
    {"prompt": "a lighthouse at dawn, waves below"},
    {"prompt": "the camera rises over the lighthouse lamp"},
    {"prompt": "gulls fly out to sea as the sun comes up"},
]
LONG_36 = {"total_seconds": 36, "shots": SHOTS, "model": "sora-2", "size": "1280x720"}


def sandbox(tmp_path: Path, profile: str) -> SandboxServer:
    config = SandboxConfig(
        catalog=load_builtin(profile), api_key=CANARY_KEY, time_scale=0.05, storage_dir=tmp_path / "provider"
    )
    return SandboxServer(config)


def settings(home: Path, server: SandboxServer, profile: str, **env: str) -> Settings:
    values = {
        "OPENAI_API_KEY": CANARY_KEY,
        "OPENAI_BASE_URL": server.base_url,
        "SORA_MCP_PROFILE": profile,
        "SORA_MCP_HOME": str(home / "data"),
        "SORA_MCP_OUTPUT_DIR": str(home / "out"),
        "SORA_MCP_ALLOWED_DIRS": str(home),
        **env,
    }
    return Settings.resolve(env=values, user_home=home)


@pytest.fixture
def openai_sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    with sandbox(tmp_path, "openai") as server:
        yield server


def frames_of(path: Path) -> list[NDArray[np.uint8]]:
    with av.open(str(path)) as container:
        return [
            np.asarray(f.to_ndarray(format="rgb24"), dtype=np.uint8)
            for f in container.decode(container.streams.video[0])
        ]


def psnr(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def seconds_of(path: Path) -> tuple[float, float]:
    """(duration, one frame's length) of the video stream."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 0)
        return (stream.frames / rate, 1 / rate)


async def run_to_completion(client: Client, arguments: dict[str, Any], seen: list[list[float]]) -> dict[str, Any]:
    calls: list[float] = []
    seen.append(calls)

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        calls.append(progress)

    created = await client.call_tool("create_long_video", arguments, progress_callback=on_progress)
    job = structured(created)
    assert not created.is_error, text_of(created)
    for _ in range(20):
        if job["status"] == "completed":
            return job
        calls = []
        seen.append(calls)
        status = await client.call_tool(
            "get_video_status", {"video_id": job["job_id"], "wait_seconds": 20}, progress_callback=on_progress
        )
        assert not status.is_error, text_of(status)
        job = structured(status)
    raise AssertionError(f"the long video did not complete: {job}")


@pytest.mark.parametrize(("profile", "mode", "audio"), [("openai", "auto", True), ("apiyi", "legacy", False)])
async def test_36_s_from_three_shots_is_one_continuous_mp4(
    tmp_path: Path, profile: str, mode: str, audio: bool
) -> None:
    seen: list[list[float]] = []
    with sandbox(tmp_path, profile) as provider:
        server = build_server(settings(tmp_path, provider, profile))
        async with Client(server, mode=mode) as client:
            job = await run_to_completion(client, LONG_36, seen)
            long_view = structured(await client.call_tool("get_video_status", {"video_id": job["job_id"]}))
            downloaded = await client.call_tool("download_video", {"video_id": job["job_id"], "variant": "thumbnail"})
        creates = provider.state.requests["create"]

    assert creates == 3  # one create per segment, never more
    assert long_view["status"] == "completed" and long_view["kind"] == "long" and long_view["progress"] == 100
    assert long_view["final_cost_usd"] == pytest.approx(3.6)
    video = Path(long_view["files"]["video"])
    assert video.is_file() and Path(long_view["files"]["thumbnail"]).is_file()
    assert long_view["files"]["thumbnail"] in text_of(downloaded)
    duration, frame = seconds_of(video)
    assert abs(duration - 36.0) <= frame + 1e-9
    with av.open(str(video)) as container:
        assert bool(container.streams.audio) is audio
        assert (container.streams.video[0].width, container.streams.video[0].height) == (1280, 720)

    segments = await segments_of(tmp_path / "data" / "ledger.sqlite3", job["job_id"])
    assert [s.segment for s in segments] == [0, 1, 2] and all(s.status == "completed" for s in segments)
    files = [Path(s.video_path or "") for s in segments]
    cuts = [psnr(frames_of(a)[-1], frames_of(b)[0]) for a, b in itertools.pairwise(files)]
    assert min(cuts) >= 35.0, cuts  # each segment opens on the previous one's last frame
    stitched = frames_of(video)
    per = len(stitched) // 3
    assert all(psnr(stitched[k * per - 1], stitched[k * per]) >= 35.0 for k in (1, 2))
    for calls in seen:  # one strictly increasing progress value per call
        assert calls == sorted(set(calls)) and all(0 <= p <= 100 for p in calls)
    reported = [p for calls in seen for p in calls]
    assert reported == sorted(reported)  # and never lower than an earlier call reported


async def test_a_plan_over_budget_creates_nothing(tmp_path: Path, openai_sandbox: SandboxServer) -> None:
    server = build_server(settings(tmp_path, openai_sandbox, "openai", SORA_MCP_DAILY_BUDGET_USD="3"))
    async with Client(server) as client:
        refused = await client.call_tool("create_long_video", LONG_36)
        listed = structured(await client.call_tool("list_videos", {}))
    error = error_of(refused)
    assert error["stage"] == "budget" and error["code"] == "budget_exceeded"
    assert "3.60" in error["message"] and "3.00" in error["message"], error["message"]  # the figures
    assert openai_sandbox.state.requests.get("create", 0) == 0
    assert listed["jobs"] == [] and listed["spent_today_usd"] == 0


async def test_a_failed_segment_stops_the_plan_releases_the_rest_and_resume_keeps_what_is_done(
    tmp_path: Path, openai_sandbox: SandboxServer
) -> None:
    blocked = [SHOTS[0], {"prompt": "the lamp turns on [blocked]"}, SHOTS[2]]
    server = build_server(settings(tmp_path, openai_sandbox, "openai"))
    async with Client(server) as client:
        created = await client.call_tool("create_long_video", {**LONG_36, "shots": blocked, "wait_seconds": 30})
        failure = created if created.is_error else None
        for _ in range(10):
            if failure is not None:
                break
            status = await client.call_tool(
                "get_video_status", {"video_id": structured(created)["job_id"], "wait_seconds": 20}
            )
            failure = status if status.is_error else None
        assert failure is not None
        error = error_of(failure)
        listed = structured(await client.call_tool("list_videos", {}))
        plan_id = next(j["job_id"] for j in listed["jobs"] if j["kind"] == "long")
        spent_after_failure = listed["spent_today_usd"]
        resumed = await run_to_completion(client, {**LONG_36, "resume_from": plan_id, "wait_seconds": 30}, [])

    assert error["stage"] == "job" and error["code"] == "segment_failed"
    assert error["message"].startswith("Segment 2 of 3 failed")
    assert "resume_from" in error["fix"] and plan_id in error["fix"]
    assert spent_after_failure == pytest.approx(1.2)  # segment 1 billed; the failed one and the rest released
    assert resumed["status"] == "completed"
    assert openai_sandbox.state.requests["create"] == 2 + 2  # segment 1 was kept, not made again


async def test_where_the_catalog_allows_extensions_the_provider_extends_the_video(
    tmp_path: Path, openai_sandbox: SandboxServer
) -> None:
    server = build_server(settings(tmp_path, openai_sandbox, "openai"))
    async with Client(server) as client:
        planned = structured(
            await client.call_tool("plan_long_video", {"total_seconds": 40, "prompt": "a train crosses a valley"})
        )
        job = await run_to_completion(client, {"total_seconds": 40, "prompt": "a train crosses a valley"}, [])
    assert planned["method"] == "extend" and [s["seconds"] for s in planned["segments"]] == [12, 20, 8]
    assert [s["continuity"] for s in planned["segments"]] == ["prompt", "extension", "extension"]
    assert openai_sandbox.state.requests["create"] == 1 and openai_sandbox.state.requests["extend"] == 2
    duration, frame = seconds_of(Path(job["files"]["video"]))
    assert abs(duration - 40.0) <= frame + 1e-9  # the last extension is the whole video: nothing to stitch
    assert job["final_cost_usd"] == pytest.approx(4.0)  # only the added seconds of each extension are billed


async def test_a_first_frame_image_is_fitted_and_opens_the_whole_video(
    tmp_path: Path, openai_sandbox: SandboxServer
) -> None:
    from PIL import Image

    from tests.test_sandbox_render import photo_like

    image = tmp_path / "start.png"
    image.write_bytes(photo_like(1600, 900))  # 16:9 but not the video's size: fitted (cover) to 1280x720
    arguments = {"total_seconds": 20, "prompt": "a valley at noon", "size": "1280x720", "first_frame": str(image)}
    server = build_server(settings(tmp_path, openai_sandbox, "openai"))
    async with Client(server) as client:
        planned = structured(await client.call_tool("plan_long_video", arguments))
        job = await run_to_completion(client, {**arguments, "method": "first_frame"}, [])
    assert planned["segments"][0]["continuity"] == "first_frame_image"
    expected = np.asarray(Image.open(image).convert("RGB").resize((1280, 720)), dtype=np.uint8)
    opening = frames_of(Path(job["files"]["video"]))[0]
    assert psnr(opening, expected) >= 30.0  # the given picture (resampled once by the fit), not a generated scene


@pytest.mark.parametrize(
    ("profile", "model", "ask_audio", "audio"),
    [
        ("openrouter", "google/veo-3.1-lite", True, True),  # audio on request
        ("openrouter", "google/veo-3.1-lite", False, False),
        ("apiyi-veo", "veo-3.1-fast-generate-preview", None, True),  # always on: not even a parameter
    ],
)
async def test_every_dialect_chains_and_stitches(
    tmp_path: Path, profile: str, model: str, ask_audio: bool | None, audio: bool
) -> None:
    """OpenRouter (no extensions, audio on request) and New-API (flat price per request) through the sandbox."""
    values = {
        "SORA_MCP_PROFILE": profile,
        "SORA_MCP_HOME": str(tmp_path / "data"),
        "SORA_MCP_OUTPUT_DIR": str(tmp_path / "out"),
        "SORA_MCP_ALLOWED_DIRS": str(tmp_path),
        "SORA_MCP_SANDBOX_TIME_SCALE": "0.02",
        "SORA_MCP_SANDBOX_DAILY_BUDGET_USD": "100",
    }
    server = build_server(Settings.resolve(env=values, user_home=tmp_path))
    arguments: dict[str, Any] = {"total_seconds": 12, "prompt": "a fox in the snow", "model": model}
    if ask_audio is not None:
        arguments["audio"] = ask_audio
    async with Client(server) as client:
        job = await run_to_completion(client, arguments, [])
    assert job["backend"] == "sandbox" and job["seconds"] == 12
    video = Path(job["files"]["video"])
    duration, frame = seconds_of(video)
    assert abs(duration - 12.0) <= frame + 1e-9
    with av.open(str(video)) as container:
        assert bool(container.streams.audio) is audio
    segments = await segments_of(tmp_path / "data" / "ledger.sqlite3", job["job_id"])
    assert [s.seconds for s in segments] == [8, 4]
    first, second = (Path(s.video_path or "") for s in segments)
    assert psnr(frames_of(first)[-1], frames_of(second)[0]) >= 35.0


async def test_a_last_frame_image_ends_the_video_where_the_model_takes_one(tmp_path: Path) -> None:
    from PIL import Image

    from tests.test_sandbox_render import photo_like

    image = tmp_path / "end.png"
    image.write_bytes(photo_like(1280, 720, seed=9))
    values = {
        "SORA_MCP_PROFILE": "openrouter",
        "SORA_MCP_HOME": str(tmp_path / "data"),
        "SORA_MCP_OUTPUT_DIR": str(tmp_path / "out"),
        "SORA_MCP_ALLOWED_DIRS": str(tmp_path),
        "SORA_MCP_SANDBOX_TIME_SCALE": "0.02",
        "SORA_MCP_SANDBOX_DAILY_BUDGET_USD": "100",
    }
    arguments = {"total_seconds": 12, "prompt": "a fox", "model": "alibaba/wan-2.6", "last_frame": str(image)}
    server = build_server(Settings.resolve(env=values, user_home=tmp_path))
    async with Client(server) as client:
        refused = await client.call_tool("plan_long_video", arguments)  # wan-2.6 takes no last frame
        arguments["model"] = "google/veo-3.1-lite"
        planned = structured(await client.call_tool("plan_long_video", arguments))
        job = await run_to_completion(client, arguments, [])
    assert error_of(refused)["param"] == "last_frame"
    assert "ends on the given last_frame" in " ".join(planned["notes"])
    expected = np.asarray(Image.open(image).convert("RGB"), dtype=np.uint8)
    tail = frames_of(Path(job["files"]["video"]))[-20:]  # the final segment's closing seconds
    assert max(psnr(frame, expected) for frame in tail) >= 30.0
