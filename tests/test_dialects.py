"""The three dialects: each maps the canonical request to its wire and its answers back to `JobSnapshot`; and, per
dialect, a create whose answer is lost reaches the provider exactly once (through the fault proxy, in front of a
real sandbox speaking that dialect)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from sora_mcp.catalog import ModelSpec, load_builtin
from sora_mcp.dialects import (
    NewApiDialect,
    OpenAIDialect,
    OpenRouterDialect,
    Unusable,
    VideoRequest,
    dialect_for,
    file_stem,
)
from sora_mcp.dialects.base import litellm_id
from sora_mcp.sandbox import SandboxConfig, SandboxServer
from sora_mcp.server import build_server
from sora_mcp.settings import Settings
from sora_mcp.videos import service as video_service
from tests.fault_proxy import Fault, FaultProxy
from tests.videos_support import CANARY_KEY, SORA2_4S, error_of, structured, text_of

PNG = ("first.png", b"\x89PNG-first", "image/png")
LAST = ("last.png", b"\x89PNG-last", "image/png")


def _model(profile: str, model_id: str) -> ModelSpec:
    found = load_builtin(profile).find(model_id)
    assert found is not None
    return found


# -- create bodies ------------------------------------------------------------------------------------------


def test_openai_is_todays_multipart_wire() -> None:
    model = _model("openai", "sora-2")
    wire = OpenAIDialect().create_body(VideoRequest("sora-2", "a fox", 8, "1280x720", first_frame=PNG), model)
    assert wire.multipart and wire.json is None
    assert wire.form == {"model": "sora-2", "prompt": "a fox", "seconds": "8", "size": "1280x720"}
    assert wire.files == (("input_reference", PNG),)


def test_openrouter_sends_integer_duration_frames_audio_and_seed_where_the_model_takes_them() -> None:
    veo = _model("openrouter", "google/veo-3.1")
    request = VideoRequest(
        "google/veo-3.1", "a fox", 8, "1920x1080", audio=True, seed=7, first_frame=PNG, last_frame=LAST
    )
    body = OpenRouterDialect().create_body(request, veo).json
    assert body is not None
    assert body["duration"] == 8 and isinstance(body["duration"], int) and "seconds" not in body
    assert body["size"] == "1920x1080" and "resolution" not in body  # veo-3.1 lists supported_sizes
    assert [f["frame_type"] for f in body["frame_images"]] == ["first_frame", "last_frame"]
    assert body["frame_images"][0] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,iVBORy1maXJzdA=="},
        "frame_type": "first_frame",
    }
    assert (body["generate_audio"], body["seed"]) == (True, 7)
    json.dumps(body)  # JSON only


def test_openrouter_spells_resolution_and_aspect_ratio_never_both_and_drops_unsupported_options() -> None:
    kling = _model("openrouter", "kwaivgi/kling-v3.0-std")  # no supported_sizes: resolution + aspect ratio; no seed
    body = OpenRouterDialect().create_body(VideoRequest(kling.id, "a fox", 5, "720x1280", seed=7), kling).json
    assert body is not None
    assert (body["resolution"], body["aspect_ratio"]) == ("720p", "9:16") and "size" not in body
    assert "seed" not in body and "frame_images" not in body
    assert body["generate_audio"] is False  # optional audio not asked for: said, since OpenRouter defaults it on
    hailuo = _model("openrouter", "minimax/hailuo-2.3")  # audio none: generate_audio is never sent
    body = OpenRouterDialect().create_body(VideoRequest(hailuo.id, "x", 6, "1920x1080", audio=True), hailuo).json
    assert body is not None and "generate_audio" not in body


def test_new_api_sends_string_seconds_and_metadata_resolution_json_or_multipart() -> None:
    veo = _model("apiyi-veo", "veo-3.1-generate-preview")
    text_only = NewApiDialect().create_body(VideoRequest(veo.id, "a fox", 8, "1920x1080", audio=True), veo)
    assert text_only.json == {
        "model": veo.id,
        "prompt": "a fox",
        "seconds": "8",
        "size": "1920x1080",
        "metadata": {"resolution": "1080p", "aspect_ratio": "16:9"},
    }  # audio is always on for APIYI's Veo: never sent (it answers INVALID_ARGUMENT)
    with_image = NewApiDialect().create_body(VideoRequest(veo.id, "a fox", 4, "720x1280", first_frame=PNG), veo)
    assert with_image.multipart and with_image.files == (("input_reference", PNG),)
    assert with_image.form is not None and json.loads(with_image.form["metadata"]) == {
        "resolution": "720p",
        "aspect_ratio": "9:16",
    }


# -- answers ------------------------------------------------------------------------------------------------

OPENROUTER = OpenRouterDialect()


@pytest.mark.parametrize(
    ("status", "expected", "code"),
    [
        ("pending", "queued", None),
        ("in_progress", "in_progress", None),
        ("completed", "completed", None),
        ("failed", "failed", None),
        ("cancelled", "failed", "cancelled"),
        ("expired", "failed", "expired"),
    ],
)
def test_openrouter_statuses(status: str, expected: str, code: str | None) -> None:
    job = OPENROUTER.parse_job(
        {"id": "S2wge1oFOBzIj1PpFcFu", "polling_url": "/api/v1/videos/S2wge1oFOBzIj1PpFcFu", "status": status}
    )
    assert job.status == expected and job.error_code == code
    assert job.progress == (100 if expected == "completed" else 0)  # OpenRouter has no progress field


def test_openrouter_answer_fields() -> None:
    done = OPENROUTER.parse_job(
        {
            "id": "abc123",
            "generation_id": "gen-1234567890-abcdef",
            "polling_url": "https://openrouter.ai/api/v1/videos/abc123",
            "status": "completed",
            "unsigned_urls": ["https://openrouter.ai/api/v1/videos/abc123/content?index=0"],
            "usage": {"cost": 0.25, "is_byok": False},
            "has_unsigned_urls": True,
        }
    )
    assert (done.id, done.status, done.cost_usd, done.created_at_known) == ("abc123", "completed", 0.25, False)
    failed = OPENROUTER.parse_job(
        {
            "id": "abc123",
            "polling_url": "/api/v1/videos/abc123",
            "status": "failed",
            "error": "Content policy violation",
        }
    )
    assert failed.error_message == "Content policy violation"
    for usage in ({"cost": None}, {"cost": "0.25"}, {"cost": float("inf")}, {"cost": -1}, "free"):
        assert OPENROUTER.parse_job({"id": "a1", "status": "completed", "usage": usage}).cost_usd is None
    with pytest.raises(Unusable, match="polling_url"):
        OPENROUTER.parse_job({"id": "a1", "status": "pending", "polling_url": "https://evil.example/x/other"})
    with pytest.raises(Unusable, match="polling_url"):
        OPENROUTER.parse_job({"id": "a1", "status": "pending", "polling_url": 5})
    with pytest.raises(Unusable) as caught:
        OPENROUTER.parse_job({"id": "../x", "status": "pending"})
    assert caught.value.code == "unsafe_id"


def test_new_api_task_id_alias_and_unknown_status() -> None:
    dialect = NewApiDialect()
    job = dialect.parse_job({"task_id": "task_abc", "object": "video", "status": "unknown", "progress": 50})
    assert (job.id, job.status, job.progress) == ("task_abc", "in_progress", 50)
    both = dialect.parse_job({"id": "task_1", "task_id": "task_1", "status": "queued", "seconds": "8"})
    assert (both.id, both.seconds) == ("task_1", 8)


def test_dialect_flags_and_names() -> None:
    assert dialect_for(None).name == "openai" and dialect_for("openrouter").name == "openrouter"
    with pytest.raises(ValueError, match="known: openai, openrouter, new-api"):
        dialect_for("gemini")
    assert [
        (d.can_list, d.can_delete, d.can_remix) for d in (OpenAIDialect(), OpenRouterDialect(), NewApiDialect())
    ] == [
        (True, True, True),
        (False, False, False),
        (False, False, True),
    ]
    assert "not supported by this provider" in OPENROUTER.unsupported("Deleting a video")


def test_ids_are_never_file_names_unless_plainly_safe() -> None:
    litellm = "video_bGl0ZWxsbTpjdXN0b21fbGxtX3Byb3ZpZGVyOm9wZW5haTttb2RlbF9pZDpzb3JhLTI7dmlkZW9faWQ6dmlkZW9fMQ=="
    assert litellm_id(litellm) and not litellm_id("video_68d7512d") and not litellm_id("task_abc")
    assert file_stem("video_68d7512d") == "video_68d7512d"
    for unsafe in (litellm, "a/b", "a+b", "x" * 300):
        stem = file_stem(unsafe)
        assert stem.startswith("video-") and len(stem) == 38 and "/" not in stem and "=" not in stem


# -- a lost create answer, per dialect ---------------------------------------------------------------------

DIALECT_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "openai": ("apiyi", SORA2_4S),
    "openrouter": ("openrouter", {"model": "google/veo-3.1", "seconds": "4", "size": "1280x720"}),
    "new-api": ("apiyi-veo", {"model": "veo-3.1-fast-generate-preview", "seconds": "4", "size": "1280x720"}),
}


@pytest.fixture
def short_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video_service, "CREATE_TIMEOUT_SECONDS", 2.0)
    monkeypatch.setattr(video_service, "LIST_TIMEOUT_SECONDS", 2.0)


@pytest.fixture(params=list(DIALECT_CASES))
def dialect_sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, SandboxServer]]:
    profile, _video = DIALECT_CASES[request.param]
    config = SandboxConfig(
        catalog=load_builtin(profile), api_key=CANARY_KEY, time_scale=0.05, storage_dir=tmp_path / "provider"
    )
    with SandboxServer(config) as server:
        yield request.param, server


@pytest.mark.anyio
@pytest.mark.usefixtures("short_bounds")
async def test_a_lost_create_answer_reaches_the_provider_once_per_dialect(
    dialect_sandbox: tuple[str, SandboxServer], tmp_path: Path
) -> None:
    dialect, sandbox = dialect_sandbox
    profile, video = DIALECT_CASES[dialect]
    create = {"prompt": "a red fox in snow", "video": video, "wait_seconds": 0}
    with FaultProxy(sandbox.base_url) as proxy:
        proxy.add(Fault(route="create", drop=True, times=1))  # the provider accepted it; the answer is lost
        settings = Settings.resolve(
            env={
                "OPENAI_API_KEY": CANARY_KEY,
                "OPENAI_BASE_URL": proxy.base_url,
                "SORA_MCP_PROFILE": profile,
                "SORA_MCP_HOME": str(tmp_path / "data"),
                "SORA_MCP_OUTPUT_DIR": str(tmp_path / "out"),
            },
            user_home=tmp_path,
        )
        async with Client(build_server(settings)) as client:
            with anyio.fail_after(40):
                first = await client.call_tool("create_video", create)
                retry = await client.call_tool("create_video", create)  # the agent retries, as agents do
                await anyio.sleep(1.0)
                job_id = (error_of(first)["job"] if first.is_error else structured(first))["job_id"]
                status = await client.call_tool("get_video_status", {"video_id": job_id, "wait_seconds": 5})
    assert proxy.forwarded("create") == 1 and len(sandbox.state.jobs) == 1
    retried = error_of(retry)["job"] if retry.is_error else structured(retry)
    assert retried["job_id"] == job_id
    if dialect == "openai":  # searchable: the job is found in the list and attached, at once
        assert proxy.count("list") >= 1 and not first.is_error
        assert structured(status)["video_id"] == sandbox.state.jobs[0].id
    else:  # not searchable: never listed, stays unknown with the cost reserved, and the agent is told why
        error = error_of(first)
        assert error["code"] == "create_unconfirmed" and "NOT sent again" in error["message"]
        assert proxy.count("list") == 0
        assert "cannot be searched" in error["message"] and "activity or usage page" in error["fix"]
        assert structured(status)["status"] == "unknown", text_of(status)
