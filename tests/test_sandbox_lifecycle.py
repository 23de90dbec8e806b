"""Jobs go queued -> in_progress -> completed (or failed) with rising progress, and their assets expire."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import openai
import pytest
from openai.types import Video

from sora_mcp.api_errors import OUTPUT_MODERATION
from sora_mcp.catalog import Catalog, load_builtin
from sora_mcp.sandbox import SandboxConfig, SandboxServer
from sora_mcp.sandbox.lifecycle import MODERATION_FAILURE, phase_at

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")

DEADLINE_SECONDS = 30.0


def serve(**overrides: object) -> SandboxServer:
    settings: dict[str, object] = {"time_scale": 0.02, "fps": 2, **overrides}
    return SandboxServer(SandboxConfig(load_builtin("openai"), **settings))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def shared_server() -> Iterator[SandboxServer]:
    with serve() as running:
        yield running


@pytest.fixture
def server(shared_server: SandboxServer) -> SandboxServer:
    """One server for the module, wiped before each test (jobs, files, counts and faults)."""
    shared_server.reset()
    return shared_server


def client_for(server: SandboxServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)


def observe(client: openai.OpenAI, video_id: str) -> list[Video]:
    """Every state seen while polling as fast as possible, until the job is finished."""
    seen: list[Video] = []
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        video = client.videos.retrieve(video_id)
        seen.append(video)
        if video.status in ("completed", "failed"):
            return seen
        time.sleep(0.01)
    raise AssertionError(f"{video_id} did not finish within {DEADLINE_SECONDS} s")


# -- the rule itself -------------------------------------------------------------------------------------------


def test_phase_is_queued_then_rising_progress_then_completed() -> None:
    created, duration, rendered = 1000.0, 10.0, 1003.0
    times = [created + 0.1 * k for k in range(0, 101)]
    phases = [phase_at(t, created, duration, rendered, None) for t in times]

    statuses = [p.status for p in phases]
    assert statuses[:10] == ["queued"] * 10
    assert set(statuses[10:100]) == {"in_progress"}
    assert statuses[100] == "completed"
    in_progress = [p.progress for p in phases if p.status == "in_progress"]
    assert all(a < b for a, b in itertools.pairwise(in_progress))  # strictly rising, 1% steps
    assert in_progress[0] >= 1 and in_progress[-1] <= 99
    assert (phases[100].progress, phases[100].completed_at) == (100, 1010.0)


def test_never_completed_before_the_render_finished() -> None:
    unrendered = phase_at(2000.0, 1000.0, 10.0, None, None)
    late_render = phase_at(1015.0, 1000.0, 10.0, 1014.0, None)

    assert (unrendered.status, unrendered.progress) == ("in_progress", 99)
    assert (late_render.status, late_render.completed_at) == ("completed", 1014.0)


def test_moderation_fails_at_the_scheduled_time() -> None:
    before = phase_at(1009.0, 1000.0, 10.0, 1000.0, MODERATION_FAILURE)
    after = phase_at(1010.0, 1000.0, 10.0, 1000.0, MODERATION_FAILURE)

    assert before.status == "in_progress"
    assert (after.status, after.error) == ("failed", MODERATION_FAILURE)


# -- over HTTP ---------------------------------------------------------------------------------------------------


def test_lifecycle_seen_by_a_polling_client() -> None:
    with serve(time_scale=0.25) as server:  # 1.5 s per job: many observations
        client = client_for(server)
        created = client.videos.create(prompt="watch me progress", size="1280x720")
        seen = observe(client, created.id)

    statuses = [v.status for v in seen]
    order = {"queued": 0, "in_progress": 1, "completed": 2}
    assert created.status == "queued"
    assert [order[s] for s in statuses] == sorted(order[s] for s in statuses)
    assert "in_progress" in statuses and statuses[-1] == "completed"
    progress = [v.progress for v in seen]
    assert progress == sorted(progress)
    assert len({p for v, p in zip(seen, progress, strict=True) if v.status == "in_progress"}) >= 5
    assert all(v.progress == 0 for v in seen if v.status == "queued")
    assert seen[-1].progress == 100
    final = seen[-1]
    assert final.completed_at is not None and final.completed_at >= created.created_at + 1
    assert all(v.completed_at is None and v.expires_at is None for v in seen[:-1])


def test_completed_means_the_files_are_there() -> None:
    with serve(job_seconds=0.0) as server:  # completion waits only for the render
        client = client_for(server)
        created = client.videos.create(prompt="instant", seconds="12", size="1280x720")
        seen = observe(client, created.id)
        content = client.videos.download_content(created.id).content

    assert seen[-1].status == "completed"
    assert content[4:8] == b"ftyp"


def test_poll_hint_scales_with_time(server: SandboxServer) -> None:
    client = client_for(server)
    created = client.videos.create(prompt="hint")

    headers = client.videos.with_raw_response.retrieve(created.id).headers

    assert headers["openai-poll-after-ms"] == "40"  # 2000 ms x 0.02


def test_output_moderation_fails_the_job_and_nothing_downloads(server: SandboxServer) -> None:
    client = client_for(server)
    created = client.videos.create(prompt="something [blocked] here")

    final = observe(client, created.id)[-1]

    assert created.status == "queued"
    assert final.status == "failed"
    assert final.error is not None
    assert (final.error.code, final.error.message) == ("moderation_blocked", OUTPUT_MODERATION)
    assert final.expires_at is None
    with pytest.raises(openai.NotFoundError) as caught:
        client.videos.download_content(created.id)
    assert caught.value.body == {
        "message": f"Video '{created.id}' failed; it has no content.",
        "type": "invalid_request_error",
        "param": "video_id",
        "code": None,
    }
    assert client.videos.delete(created.id).deleted is True
    assert server.state.job(created.id).billed_seconds == 4


def test_assets_expire_after_the_ttl() -> None:
    with serve(asset_ttl_seconds=1.0) as server:
        client = client_for(server)
        video = observe(client, client.videos.create(prompt="ephemeral").id)[-1]
        assert video.completed_at is not None and video.expires_at is not None
        assert video.expires_at - video.completed_at in (0, 1, 2)
        fresh = client.videos.download_content(video.id).content
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            try:
                client.videos.download_content(video.id)
            except openai.NotFoundError as gone:
                expired = gone
                break
            assert time.monotonic() < deadline, "content never expired"
            time.sleep(0.05)
        still_listed = client.videos.retrieve(video.id)

    assert fresh[4:8] == b"ftyp"
    assert time.time() >= video.expires_at
    assert expired.body == {
        "message": f"The content of video '{video.id}' has expired and can no longer be downloaded.",
        "type": "invalid_request_error",
        "param": "video_id",
        "code": "video_expired",
    }
    assert still_listed.status == "completed"


def test_stop_cancels_running_renders_and_removes_the_files() -> None:
    long_model = load_builtin("openai").models[1].model_copy(update={"seconds": (120,), "default_seconds": 120})
    config = SandboxConfig(Catalog(profile="long", models=(long_model,)), job_seconds=600.0, fps=10)
    server = SandboxServer(config).start()
    client = client_for(server)
    client.videos.create(prompt="two minutes at 1792x1024 take far longer than 5 s to render", size="1792x1024")
    storage = server.storage_dir

    started = time.monotonic()
    server.stop()

    assert time.monotonic() - started < 5
    assert not storage.exists()
    assert server.state.jobs[0].status in ("queued", "in_progress")  # it will never finish now
