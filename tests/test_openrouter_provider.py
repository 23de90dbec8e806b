"""sora-mcp against an OpenRouter-dialect provider (the sandbox speaking OpenRouter, behind the fault proxy): a
create with first and last frames, audio and seed; the 202 answer; polling without progress; the MP4 from
`…/content?index=0`, thumbnail and spritesheet derived from it; the cost from `usage.cost`; cancelled and expired
jobs; `{code:int, message}` errors; no list, delete or remix; and the settings that pick the dialect."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client

from sora_mcp.catalog import load_builtin
from sora_mcp.jobs import JobIntent, Ledger, Location
from sora_mcp.runtime import Runtime
from sora_mcp.sandbox import SandboxConfig, SandboxServer
from sora_mcp.server import build_server
from sora_mcp.settings import Settings
from sora_mcp.tenancy import LOCAL
from tests.fault_proxy import Fault, FaultProxy
from tests.interop.support import write_png
from tests.videos_support import CANARY_KEY, error_of, structured, text_of

pytestmark = pytest.mark.anyio

VEO = {"model": "google/veo-3.1", "seconds": "4", "size": "1280x720"}


@pytest.fixture
def openrouter(tmp_path: Path) -> Iterator[tuple[SandboxServer, FaultProxy]]:
    config = SandboxConfig(
        catalog=load_builtin("openrouter"), api_key=CANARY_KEY, time_scale=0.05, storage_dir=tmp_path / "provider"
    )
    with SandboxServer(config) as server, FaultProxy(server.base_url) as proxy:
        yield server, proxy


def _settings(tmp_path: Path, proxy: FaultProxy, **env: str) -> Settings:
    return Settings.resolve(
        env={
            "OPENROUTER_API_KEY": CANARY_KEY,
            "OPENAI_BASE_URL": proxy.base_url,
            "SORA_MCP_PROFILE": "openrouter",
            "SORA_MCP_HOME": str(tmp_path / "data"),
            "SORA_MCP_OUTPUT_DIR": str(tmp_path / "out"),
            "SORA_MCP_ALLOWED_DIRS": str(tmp_path),
            **env,
        },
        user_home=tmp_path,
    )


async def test_create_with_frames_audio_and_seed_then_download(
    tmp_path: Path, openrouter: tuple[SandboxServer, FaultProxy]
) -> None:
    sandbox, proxy = openrouter
    first, last = write_png(tmp_path / "first.png", 640, 360), write_png(tmp_path / "last.png", 320, 180)
    proxy.add(Fault(route="retrieve", patch={"usage": {"cost": 0.77, "is_byok": False}}))  # the provider's price
    async with Client(build_server(_settings(tmp_path, proxy))) as client:
        with anyio.fail_after(60):
            created = await client.call_tool(
                "create_video",
                {
                    "prompt": "a lighthouse at dusk",
                    "video": {**VEO, "audio": True, "seed": 42, "last_frame": str(last)},
                    "reference_image": str(first),
                    "wait_seconds": 0,
                },
            )
            job = structured(created)
            status = structured(
                await client.call_tool("get_video_status", {"video_id": job["video_id"], "wait_seconds": 30})
            )
            listed = structured(await client.call_tool("list_videos", {}))
            remix = await client.call_tool("remix_video", {"video_id": job["video_id"], "prompt": "at night"})
            delete = await client.call_tool("delete_video", {"video_id": job["video_id"]})
    assert job["estimated_cost_usd"] == pytest.approx(1.6)  # 4 s x $0.40 with audio
    (made,) = sandbox.state.jobs
    assert (made.seconds, made.size) == (4, "1280x720")
    assert made.cost_usd == pytest.approx(1.6)  # the sandbox priced it with audio: generate_audio arrived
    assert status["status"] == "completed", text_of(created)
    files = status["files"]
    assert Path(files["video"]).read_bytes()[4:8] == b"ftyp"
    assert Path(files["thumbnail"]).read_bytes()[8:12] == b"WEBP"
    assert Path(files["spritesheet"]).read_bytes()[:2] == b"\xff\xd8"
    assert proxy.count("content") == 1  # only the MP4: OpenRouter has no thumbnail or spritesheet
    assert [s.path for s in proxy.requests if s.route == "content"] == [f"/videos/{made.id}/content"]
    assert listed["spent_today_usd"] == pytest.approx(0.77)  # usage.cost, not the estimate
    for result, what in ((remix, "Remixing"), (delete, "Deleting")):
        error = error_of(result)
        assert error["code"] == "unsupported" and "not supported by this provider" in error["message"], error
        assert what in error["message"]
    assert proxy.count("remix") == 0 and proxy.count("delete") == 0 and proxy.count("list") == 0


@pytest.mark.parametrize(
    ("marker", "code", "words"), [("[cancelled]", "cancelled", "cancelled"), ("[expired]", "expired", "time to live")]
)
async def test_cancelled_and_expired_jobs_fail_with_the_reason(
    marker: str, code: str, words: str, tmp_path: Path, openrouter: tuple[SandboxServer, FaultProxy]
) -> None:
    _sandbox, proxy = openrouter
    async with Client(build_server(_settings(tmp_path, proxy))) as client:
        with anyio.fail_after(60):
            result = await client.call_tool(
                "create_video", {"prompt": f"a fox {marker}", "video": VEO, "wait_seconds": 30}
            )
            listed = structured(await client.call_tool("list_videos", {}))
    error = error_of(result)
    assert error["job"]["status"] == "failed" and error["code"] == code, error
    assert words in error["message"].lower()
    assert listed["spent_today_usd"] == 0  # a failed job costs nothing


async def test_http_errors_with_integer_codes_are_rendered(
    tmp_path: Path, openrouter: tuple[SandboxServer, FaultProxy]
) -> None:
    _sandbox, proxy = openrouter
    credits = "Insufficient credits. Add more using https://openrouter.ai/credits"
    proxy.add(
        Fault(route="create", forward=False, status=402, json={"error": {"code": 402, "message": credits}}, times=1)
    )
    async with Client(build_server(_settings(tmp_path, proxy))) as client:
        refused = await client.call_tool("create_video", {"prompt": "a fox", "video": VEO, "wait_seconds": 0})
    error = error_of(refused)
    assert error["message"] == credits and error["job"]["status"] == "create_failed"
    assert error["provider_error"] == {"error": {"code": 402, "message": credits}}


def test_an_openrouter_key_and_url_pick_the_openrouter_dialect(tmp_path: Path) -> None:
    settings = Settings.resolve(env={"OPENROUTER_API_KEY": "sk-or-v1-abc123def456"}, user_home=tmp_path)
    assert (settings.backend, settings.base_url, settings.profile) == (
        "provider",
        "https://openrouter.ai/api/v1",
        "openrouter",
    )
    assert settings.sources["api_key"] == "env" and settings.sources["profile"] == "derived"
    rows = {name: (env, source) for name, env, _shown, source in settings.describe()}
    assert rows["api_key"] == ("OPENROUTER_API_KEY", "env") and rows["base_url"][1] == "derived"
    assert Runtime.create(settings).dialect.name == "openrouter"
    by_url = Settings.resolve(
        env={"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "https://openrouter.ai/api/v1"}, user_home=tmp_path
    )
    assert by_url.profile == "openrouter" and by_url.describe()[1][1] == "OPENAI_API_KEY"
    plain = Settings.resolve(env={"OPENAI_API_KEY": "sk-x", "OPENROUTER_API_KEY": "sk-or"}, user_home=tmp_path)
    assert (plain.api_key, plain.base_url, plain.profile) == ("sk-x", "https://api.openai.com/v1", "openai")


async def test_a_create_left_unanswered_by_a_crash_becomes_unknown_never_resent(
    tmp_path: Path, openrouter: tuple[SandboxServer, FaultProxy]
) -> None:
    sandbox, proxy = openrouter
    settings = _settings(tmp_path, proxy)
    past = time.time() - 120  # recorded two minutes ago by a process that died before the answer
    ledger = Ledger(Location.sqlite(settings.home / "ledger.sqlite3"), clock=lambda: past)
    intent = JobIntent(
        kind="create",
        backend=Runtime.create(settings).backend_label,
        base_url=settings.base_url,
        profile="openrouter",
        model="google/veo-3.1",
        seconds=4,
        size="1280x720",
        prompt="a fox",
        estimated_cost_usd=0.8,
    )
    record = await ledger.record_intent(LOCAL.id, intent, daily_limit_usd=10.0)
    await ledger.close()
    async with Client(build_server(settings)) as client:
        status = await client.call_tool("get_video_status", {"video_id": record.local_id, "wait_seconds": 0})
        listed = structured(await client.call_tool("list_videos", {}))
    job = structured(status)
    assert job["status"] == "unknown" and "cannot be searched" in job["error"]["message"], job
    assert listed["spent_today_usd"] == pytest.approx(0.8)  # still reserved: it may have been made
    assert proxy.count("create") == 0 and proxy.count("list") == 0 and not sandbox.state.jobs  # nothing sent
