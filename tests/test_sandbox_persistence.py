"""Jobs and renders outlive the sandbox that accepted them: a later (or concurrent) sandbox on the same folder
knows them, finishes their renders exactly once, serves, remixes and deletes them, and keeps the folder bounded.

This is what hosts that start one MCP server process per tool call (MCP Inspector's CLI, langchain-mcp-adapters)
need: `create_video` in one process, `get_video_status` in the next.
"""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import openai
import pytest
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, TextContent
from openai.types import Video
from PIL import Image

from sora_mcp.catalog import load_builtin
from sora_mcp.sandbox import SandboxConfig, SandboxServer

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")

DEADLINE_SECONDS = 60.0
SORA2_4S = {"model": "sora-2", "seconds": "4", "size": "1280x720"}
SLOW_RENDER = {
    "prompt": "twelve seconds at 1792x1024 take about a second to render",
    "model": "sora-2-pro",
    "seconds": "12",
    "size": "1792x1024",
}


def config(storage: Path, key: str, **overrides: Any) -> SandboxConfig:
    settings: dict[str, Any] = {"time_scale": 0.02, "fps": 4, "api_key": key, "storage_dir": storage, **overrides}
    return SandboxConfig(load_builtin("openai"), **settings)


def client_for(server: SandboxServer, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0)


def wait_done(client: openai.OpenAI, video_id: str) -> Video:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        video = client.videos.retrieve(video_id)
        if video.status in ("completed", "failed"):
            return video
        time.sleep(0.02)
    raise AssertionError(f"{video_id} did not finish within {DEADLINE_SECONDS} s")


def png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def first_frame_centre(mp4: bytes) -> tuple[float, float, float]:
    with av.open(io.BytesIO(mp4), mode="r") as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    h, w = frame.shape[:2]
    centre = np.asarray(frame[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3], dtype=np.float64)
    red, green, blue = centre.reshape(-1, 3).mean(axis=0)
    return float(red), float(green), float(blue)


def video_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.duration is not None and stream.time_base is not None
        return float(stream.duration * stream.time_base)


# -- one sandbox after another, in one process ------------------------------------------------------------------


def test_a_later_server_retrieves_downloads_remixes_lists_and_deletes_the_jobs_of_an_earlier_one(
    tmp_path: Path,
) -> None:
    with SandboxServer(config(tmp_path, "sk-first")) as first:
        one = client_for(first, "sk-first")
        uploaded = one.files.create(file=("ref.png", png(1280, 720, (200, 30, 90)), "image/png"), purpose="vision")
        done = wait_done(one, one.videos.create(prompt="made by the first", seconds="4", size="1280x720").id)
        pictured = one.post(
            "/videos",
            body={"prompt": "from a picture", "size": "1280x720", "input_reference": {"file_id": uploaded.id}},
            cast_to=Video,
        )
        wait_done(one, pictured.id)
        mp4_then = one.videos.download_content(done.id).content
        ledger_then = first.state

    with SandboxServer(config(tmp_path, "sk-second")) as second:
        two = client_for(second, "sk-second")
        again = two.videos.retrieve(done.id)
        mp4_now = two.videos.download_content(done.id).content
        thumbnail = two.videos.download_content(done.id, variant="thumbnail").content
        listed = [v.id for v in two.videos.list(order="asc").data]
        remix = wait_done(two, two.videos.remix(pictured.id, prompt="the same picture, at night").id)
        remixed_mp4 = two.videos.download_content(remix.id).content
        by_file = two.post(
            "/videos",
            body={"prompt": "the first's upload", "size": "1280x720", "input_reference": {"file_id": uploaded.id}},
            cast_to=Video,
        )
        with pytest.raises(openai.AuthenticationError):
            client_for(second, "sk-first").videos.retrieve(done.id)  # the earlier process's key is not this one's
        asset = second.asset_path(done.id, "video")
        assert asset is not None and asset.read_bytes() == mp4_now
        deleted = two.videos.delete(done.id)
        with pytest.raises(openai.NotFoundError):
            two.videos.retrieve(done.id)
        gone = second.asset_path(done.id, "video")
        ledger_now = second.state

    assert (again.status, again.progress, again.completed_at, again.expires_at) == (
        "completed",
        100,
        done.completed_at,
        done.expires_at,
    )
    assert mp4_now == mp4_then and mp4_now[4:8] == b"ftyp"
    assert thumbnail[:4] == b"RIFF"
    assert listed == [done.id, pictured.id]
    assert remix.status == "completed" and remix.remixed_from_video_id == pictured.id
    red, green, blue = first_frame_centre(remixed_mp4)  # the reference image travelled with the job
    assert red > 150 and green < 80 and blue < 130
    assert by_file.status == "queued"
    assert deleted.deleted is True and gone is None and not asset.exists()
    assert [j.id for j in ledger_then.jobs] == [done.id, pictured.id]
    assert [j.id for j in ledger_now.jobs] == [done.id, pictured.id, remix.id, by_file.id]
    assert ledger_now.job(done.id).deleted and ledger_now.billed_seconds == 4 + 4 + 4 + 4
    assert second.service.renders >= 1


def test_a_render_cut_short_by_a_stop_is_finished_by_the_next_server(tmp_path: Path) -> None:
    first = SandboxServer(config(tmp_path, "k", fps=10)).start()
    created = client_for(first, "k").videos.create(**SLOW_RENDER)  # type: ignore[arg-type]
    first.stop()  # cancels the render within a frame: nothing of it is kept, and it is not a failure
    left = first.state.job(created.id)

    with SandboxServer(config(tmp_path, "k", fps=10)) as second:
        assert second.asset_path(created.id, "video") is None
        client = client_for(second, "k")
        finished = wait_done(client, created.id)
        path = second.asset_path(created.id, "video")
        assert path is not None
        length = video_seconds(path)

    assert left.status in ("queued", "in_progress")
    assert first.service.renders == 0
    assert (finished.status, finished.error) == ("completed", None)
    assert second.service.renders == 1
    assert length == pytest.approx(12.0, abs=0.2)
    assert list((tmp_path / "tmp").iterdir()) == [] and list((tmp_path / "locks").iterdir()) == []


def test_progress_carries_on_from_the_persisted_creation_time(tmp_path: Path) -> None:
    with SandboxServer(config(tmp_path, "k", time_scale=1.0, job_seconds=2.0)) as first:
        created = client_for(first, "k").videos.create(prompt="two seconds", seconds="4", size="1280x720")
        time.sleep(0.8)
    with SandboxServer(config(tmp_path, "k", time_scale=0.01)) as second:  # another scale: the job keeps its own
        client = client_for(second, "k")
        resumed = client.videos.retrieve(created.id)
        finished = wait_done(client, created.id)

    assert created.status == "queued"
    assert resumed.status == "in_progress" and 40 <= resumed.progress < 99
    assert finished.completed_at is not None and finished.completed_at >= created.created_at + 2


def test_two_servers_at_once_render_each_job_once(tmp_path: Path) -> None:
    """The second server is asked about a job the first is still rendering, and about one the first has queued
    behind it: the first job is rendered by its owner only, the queued one by whoever gets its lock first."""
    first = SandboxServer(config(tmp_path, "k", fps=10, render_workers=1)).start()
    second = SandboxServer(config(tmp_path, "k", fps=10)).start()
    try:
        one, two = client_for(first, "k"), client_for(second, "k")
        busy = one.videos.create(**SLOW_RENDER)  # type: ignore[arg-type]
        queued = one.videos.create(prompt="queued behind the slow one", seconds="4", size="1280x720")
        seen_by_second = [wait_done(two, queued.id), wait_done(two, busy.id)]
        seen_by_first = [wait_done(one, queued.id), wait_done(one, busy.id)]
        contents = {
            one.videos.download_content(v.id).content == two.videos.download_content(v.id).content
            for v in seen_by_first
        }
        renders = (first.service.renders, second.service.renders)
        two.videos.delete(queued.id)
        with pytest.raises(openai.NotFoundError):  # the first had it cached; the second's write is seen at once
            one.videos.retrieve(queued.id)
        listed_by_first = [v.id for v in one.videos.list().data]
    finally:
        first.stop()
        second.stop()

    assert [v.status for v in seen_by_second + seen_by_first] == ["completed"] * 4
    assert contents == {True}
    assert sum(renders) == 2  # two jobs, two renders, whichever process made them
    assert renders[1] >= 1  # the queued job did not wait for the busy worker of its owner
    assert listed_by_first == [busy.id]


CRASHING_SANDBOX = """
import sys, time
from pathlib import Path
import openai
from sora_mcp.catalog import load_builtin
from sora_mcp.sandbox import SandboxConfig, SandboxServer

storage = Path(sys.argv[1])
server = SandboxServer(SandboxConfig(load_builtin("openai"), time_scale=0.02, fps=10, storage_dir=storage)).start()
client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
video = client.videos.create(prompt="killed mid-render", model="sora-2-pro", seconds="12", size="1792x1024")
deadline = time.monotonic() + 30
while not any((storage / "tmp").rglob("*.mp4")):  # the render has begun writing
    assert time.monotonic() < deadline
    time.sleep(0.002)
sys.stdout.write(video.id + "\\n")
sys.stdout.flush()
time.sleep(600)
"""


def test_a_render_whose_process_was_killed_is_rendered_by_the_next_one(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", CRASHING_SANDBOX, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    try:
        assert process.stdout is not None
        video_id = process.stdout.readline().strip()
        assert video_id.startswith("video_"), "the child never started rendering"
        process.send_signal(signal.SIGKILL)  # no cleanup at all: a half-written file, a lock file, no render row
    finally:
        process.kill()
        process.wait(timeout=30)
    left_behind = sorted(p.name for p in (tmp_path / "tmp").rglob("*"))

    with SandboxServer(config(tmp_path, "k", fps=10)) as survivor:
        finished = wait_done(client_for(survivor, "k"), video_id)
        path = survivor.asset_path(video_id, "video")
        assert path is not None
        length = video_seconds(path)
        renders = survivor.service.renders

    assert f"{video_id}.mp4" in left_behind
    assert finished.status == "completed" and renders == 1
    assert length == pytest.approx(12.0, abs=0.2)
    assert list((tmp_path / "tmp").iterdir()) == []


# -- bounds ----------------------------------------------------------------------------------------------------


def test_old_jobs_are_forgotten_like_unknown_ones(tmp_path: Path) -> None:
    max_age = 3.0
    with SandboxServer(config(tmp_path, "k", max_age_seconds=max_age, cleanup_interval_seconds=0.0)) as server:
        client = client_for(server, "k")
        created = client.videos.create(prompt="short-lived", seconds="4", size="1280x720")
        accepted_by = time.time()
        video = wait_done(client, created.id)
        path = server.asset_path(video.id, "video")
        assert path is not None and path.is_file()
        time.sleep(max(0.0, accepted_by + max_age + 0.1 - time.time()))
        with pytest.raises(openai.NotFoundError) as caught:
            client.videos.retrieve(video.id)
        listed = client.videos.list().data
        state = server.state

    assert caught.value.body == {
        "message": f"No video found with id '{video.id}'.",
        "type": "invalid_request_error",
        "param": "video_id",
        "code": None,
    }
    assert listed == [] and state.jobs == ()
    assert not path.exists()
    assert list((tmp_path / "renders").iterdir()) == []


def test_expired_content_is_removed_from_disk(tmp_path: Path) -> None:
    with SandboxServer(config(tmp_path, "k", asset_ttl_seconds=1.5, cleanup_interval_seconds=0.0)) as server:
        client = client_for(server, "k")
        video = wait_done(client, client.videos.create(prompt="expires", seconds="4", size="1280x720").id)
        path = server.asset_path(video.id, "video")
        assert path is not None and path.is_file()
        assert video.expires_at is not None
        time.sleep(max(0.0, video.expires_at + 1.1 - time.time()))  # expires_at is rounded down to a second
        with pytest.raises(openai.NotFoundError) as caught:
            client.videos.download_content(video.id)
        still = client.videos.retrieve(video.id)  # the job itself is still known, as at the real API

    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "video_expired"
    assert still.status == "completed"
    assert not path.exists() and list((tmp_path / "renders").iterdir()) == []


def test_the_oldest_renders_go_when_the_folder_is_over_its_size(tmp_path: Path) -> None:
    with SandboxServer(config(tmp_path, "k")) as probe:
        client = client_for(probe, "k")
        sample = wait_done(client, client.videos.create(prompt="how big", seconds="4", size="1280x720").id)
        one_render = sum(p.stat().st_size for p in (tmp_path / "renders").iterdir())
        client.videos.delete(sample.id)
    bound = int(one_render * 2.5)  # room for two renders of this kind, not three

    with SandboxServer(config(tmp_path, "k", max_storage_bytes=bound)) as server:
        client = client_for(server, "k")
        videos = [
            wait_done(client, client.videos.create(prompt=f"render {n}", seconds="4", size="1280x720").id)
            for n in range(4)
        ]
        downloadable = []
        for video in videos:
            try:
                client.videos.download_content(video.id)
                downloadable.append(True)
            except openai.NotFoundError as expired:
                assert isinstance(expired.body, dict) and expired.body["code"] == "video_expired"
                downloadable.append(False)
        oldest = client.videos.retrieve(videos[0].id)
        on_disk = sum(p.stat().st_size for p in (tmp_path / "renders").iterdir())

    assert downloadable == [False, False, True, True]
    assert oldest.status == "completed" and oldest.expires_at is not None and oldest.expires_at <= time.time()
    assert on_disk <= bound


# -- two `sora-mcp serve` processes, one after the other ------------------------------------------------------


def text_of(result: CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


def structured(result: CallToolResult) -> dict[str, Any]:
    content = result.structured_content
    assert isinstance(content, dict), text_of(result)
    return content


def _serve_params(home: Path) -> StdioServerParameters:
    script = Path(sys.executable).with_name("sora-mcp")
    command, args = (str(script), ["serve"]) if script.exists() else (sys.executable, ["-m", "sora_mcp", "serve"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "SORA_MCP_"))}
    env.update(
        SORA_MCP_HOME=str(home / "data"),
        SORA_MCP_OUTPUT_DIR=str(home / "out"),
        SORA_MCP_SANDBOX_TIME_SCALE="0.05",
        SORA_MCP_PROFILE="openai",
        HOME=str(home),
    )
    return StdioServerParameters(command=command, args=args, env=env, cwd="/")


@pytest.mark.anyio
async def test_create_in_one_server_process_and_finish_in_the_next(tmp_path: Path) -> None:
    params = _serve_params(tmp_path)
    async with Client(params) as first:
        created = await first.call_tool(
            "create_video", {"prompt": "harbour at dawn", "video": SORA2_4S, "wait_seconds": 0}
        )
    job = structured(created)
    assert not created.is_error, text_of(created)
    assert job["status"] in ("queued", "in_progress"), job

    async with Client(params) as second:
        status = await second.call_tool("get_video_status", {"video_id": job["video_id"], "wait_seconds": 30})
        listed = await second.call_tool("list_videos", {"limit": 5, "refresh": True})
    view = structured(status)
    assert not status.is_error, text_of(status)
    assert view["status"] == "completed", view
    video = Path(view["files"]["video"])
    assert video.is_file() and video.parent == tmp_path / "out"
    assert video_seconds(video) == pytest.approx(4.0, abs=0.2)
    with av.open(str(video)) as container:
        assert (container.streams.video[0].width, container.streams.video[0].height) == (1280, 720)
    assert job["video_id"] in text_of(listed)
    stored = tmp_path / "data" / "sandbox" / "renders" / f"{job['video_id']}.mp4"
    assert video.samefile(stored)  # a render is stored once: the output file is a hard link to the sandbox's

    async with Client(params) as third:
        deleted = await third.call_tool("delete_video", {"video_id": job["video_id"]})
    assert not deleted.is_error, text_of(deleted)
    assert not any((tmp_path / "data" / "sandbox" / "renders").iterdir())


def test_leftovers_of_older_versions_are_handled(tmp_path: Path) -> None:
    """Renders the in-memory sandbox left at the top of the folder go; a job stored with a model description
    this version cannot read falls back to the catalog's model of the same name."""
    legacy = [tmp_path / f"video_{'0' * 32}.{ext}" for ext in ("mp4", "webp", "jpg")]
    for path in legacy:
        path.write_bytes(b"old")
    with SandboxServer(config(tmp_path, "k")) as first:
        client = client_for(first, "k")
        video = wait_done(client, client.videos.create(prompt="stored", seconds="4", size="1280x720").id)
    with sqlite3.connect(tmp_path / "sandbox.db") as db:
        db.execute(
            "UPDATE jobs SET spec = ? WHERE id = ?", ('{"id": "sora-2", "a_field_from_the_future": 1}', video.id)
        )
    with SandboxServer(config(tmp_path, "k")) as second:
        again = client_for(second, "k").videos.retrieve(video.id)
        ledger = second.state

    assert not any(path.exists() for path in legacy)
    assert again.status == "completed" and again.model == "sora-2"
    assert ledger.job(video.id).cost_usd == load_builtin("openai").models[0].cost(4, "1280x720")


def test_a_folder_from_before_the_audio_and_seed_columns_is_upgraded_on_open(tmp_path: Path) -> None:
    storage = tmp_path / "old"
    with SandboxServer(config(storage, "sk-a")) as first, client_for(first, "sk-a") as client:
        video = wait_done(client, client.videos.create(prompt="from an older version", seconds="4").id)
    with sqlite3.connect(storage / "sandbox.db") as db:  # the jobs table as the previous release wrote it
        db.execute("ALTER TABLE jobs DROP COLUMN audio")
        db.execute("ALTER TABLE jobs DROP COLUMN seed")
        before = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}

    with SandboxServer(config(storage, "sk-a")) as second, client_for(second, "sk-a") as client:
        again = client.videos.retrieve(video.id)
        job = second.service.store.get(video.id)
        newer = client.videos.create(prompt="after the upgrade", seconds="4")
    with sqlite3.connect(storage / "sandbox.db") as db:
        after = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}

    assert "audio" not in before and "seed" not in before
    assert {"audio", "seed"} <= after
    assert (again.status, job.audio, job.seed, job.has_audio) == ("completed", None, None, True)  # sora-2: always
    assert newer.status == "queued"
