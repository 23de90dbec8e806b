"""The sandbox in the New-API dialect (APIYI's Veo 3.1 channel), driven by the official `openai` client.

New-API keeps the OpenAI shape but answers with `task_…` ids plus a `task_id` alias and coarse progress
(0, 50, 100), and takes the frame as `metadata.resolution` (../shared/video-dialects.md §3).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest

from sora_mcp.catalog import load_builtin
from sora_mcp.sandbox import SandboxConfig, SandboxServer

DEADLINE_SECONDS = 30.0
MODEL = "veo-3.1-fast-generate-preview"


@pytest.fixture(scope="module")
def shared_server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(load_builtin("apiyi-veo"), time_scale=0.05, fps=2)) as running:
        yield running


@pytest.fixture
def server(shared_server: SandboxServer) -> SandboxServer:
    shared_server.reset()
    return shared_server


@pytest.fixture
def client(server: SandboxServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="sk-apiyi", max_retries=0) as sdk:
        yield sdk


def raw_video(server: SandboxServer, video_id: str) -> dict[str, Any]:
    response = httpx2.get(f"{server.base_url}/videos/{video_id}", headers={"Authorization": "Bearer k"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_profile_picks_the_dialect_and_the_openai_path() -> None:
    config = SandboxConfig(load_builtin("apiyi-veo"))

    assert (config.wire, config.api_path) == ("new-api", "/v1")


def test_task_ids_with_an_alias_and_coarse_progress(client: openai.OpenAI, server: SandboxServer) -> None:
    created = client.videos.create(prompt="a lighthouse", model=MODEL, seconds="4")

    assert created.id.startswith("task_") and created.status == "queued" and created.progress == 0
    progress: list[tuple[str, int]] = []
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        body = raw_video(server, created.id)
        assert body["task_id"] == body["id"] == created.id
        progress.append((body["status"], body["progress"]))
        if body["status"] == "completed":
            break
        time.sleep(0.01)
    content = client.videos.download_content(created.id).content

    assert set(progress) <= {("queued", 0), ("in_progress", 50), ("completed", 100)}
    assert ("in_progress", 50) in progress and progress[-1] == ("completed", 100)
    assert content[4:8] == b"ftyp"
    assert server.state.job(created.id).cost_usd == pytest.approx(0.3)  # flat per request


def test_metadata_resolution_chooses_the_size(client: openai.OpenAI, server: SandboxServer) -> None:
    wide = client.videos.create(
        prompt="wide",
        model=MODEL,
        seconds="8",
        extra_body={"metadata": {"resolution": "1080p"}},
    )
    tall = client.post(
        "/videos",
        body={
            "prompt": "tall",
            "model": MODEL,
            "seconds": "8",
            "metadata": {"resolution": "4k", "aspect_ratio": "9:16"},
        },
        cast_to=openai.types.Video,
    )
    as_json_text = httpx2.post(
        f"{server.base_url}/videos",
        headers={"Authorization": "Bearer k"},
        files={
            "prompt": (None, "form"),
            "model": (None, MODEL),
            "duration": (None, "6"),
            "metadata": (None, '{"resolution": "720p", "aspectRatio": "9:16"}'),
        },
    )

    assert (wide.size, wide.seconds) == ("1920x1080", "8")
    assert raw_video(server, wide.id)["metadata"] == {"resolution": "1080p", "aspect_ratio": "16:9"}
    assert str(tall.size) == "2160x3840"
    assert as_json_text.status_code == 200, as_json_text.text
    assert (as_json_text.json()["size"], as_json_text.json()["seconds"]) == ("720x1280", "6")


def test_1080p_needs_eight_seconds_and_unknown_tiers_are_named(client: openai.OpenAI, server: SandboxServer) -> None:
    with pytest.raises(openai.BadRequestError) as short:
        client.videos.create(
            prompt="x",
            model=MODEL,
            seconds="4",
            extra_body={"metadata": {"resolution": "1080p"}},
        )
    with pytest.raises(openai.BadRequestError) as tier:
        client.post(
            "/videos",
            body={"prompt": "x", "model": MODEL, "metadata": {"resolution": "2k"}},
            cast_to=openai.types.Video,
        )

    assert short.value.body == {
        "message": (
            f"Invalid 'seconds': 4 seconds is not available at 1920x1080 for model '{MODEL}'. "
            "At 1920x1080, supported values are: '8'."
        ),
        "type": "invalid_request_error",
        "param": "seconds",
        "code": "invalid_value",
    }
    assert isinstance(tier.value.body, dict)
    assert tier.value.body["param"] == "metadata.resolution"
    assert tier.value.body["message"] == "Invalid value: '2k'. Supported values are: '720p', '1080p', and '4k'."
    assert server.state.jobs == ()


def test_the_openai_dialect_has_no_alias_and_fine_progress() -> None:
    config = SandboxConfig(load_builtin("apiyi-veo"), dialect="openai", time_scale=0.05, fps=2)
    with SandboxServer(config) as running, openai.OpenAI(base_url=running.base_url, api_key="k", max_retries=0) as sdk:
        created = sdk.videos.create(prompt="plain", model=MODEL, seconds="4")
        body = raw_video(running, created.id)
        with pytest.raises(openai.BadRequestError):
            sdk.videos.create(
                prompt="x",
                model=MODEL,
                extra_body={"metadata": {"resolution": "720p"}},
            )

    assert created.id.startswith("video_") and "task_id" not in body and "metadata" not in body
