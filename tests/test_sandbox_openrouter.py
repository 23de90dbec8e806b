"""The sandbox in OpenRouter's dialect, driven by the official `openrouter` SDK (PyPI) over HTTP on loopback.

The catalog is written from OpenRouter's own listing of 2026-10-09 (../shared/video-dialects.md §1.7): Veo 3.1
(sizes, both frame images, optional audio, seed, prices with and without audio; here also the 8 s rule at
1080p/4K), Wan 2.6 (first frame only), Kling v3.0 Pro (no seed) and Hailuo 2.3 (no audio, spelled as
resolution + aspect ratio), plus a model listed with no durations.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import httpx2
import openrouter
import pytest
from openrouter import components
from openrouter import errors as or_errors
from openrouter.utils import BackoffStrategy, RetryConfig
from PIL import Image

from sora_mcp.catalog import Catalog, load_builtin
from sora_mcp.listing import catalog_from_listing
from sora_mcp.sandbox import SandboxConfig, SandboxServer
from sora_mcp.sizes import Size

DEADLINE_SECONDS = 30.0
NO_RETRIES = RetryConfig("none", BackoffStrategy(1, 1, 1.0, 1), False)
VEO_SIZES = ["1280x720", "1080x1920", "1920x1080", "720x1280", "3840x2160", "2160x3840"]
LISTING_SOURCE = "OpenRouter listing fetched 2026-10-09T20:02:55Z"
SNAPSHOT = Path(__file__).resolve().parents[1] / "sora_mcp" / "catalogs" / "openrouter-listing-2026-10-09.json"

CATALOG: dict[str, Any] = {
    "profile": "openrouter-test",
    "dialect": "openrouter",
    "source": LISTING_SOURCE,
    "fetched_at": "2026-10-09T20:02:55Z",
    "models": [
        {
            "id": "google/veo-3.1",
            "seconds": [4, 6, 8],
            "sizes": VEO_SIZES,
            "default_seconds": 8,
            "default_size": "1280x720",
            "audio": "optional",
            "seed": True,
            "frame_images": ["first_frame", "last_frame"],
            "seconds_wire": "integer",
            "duration_param": "duration",
            "combinations": [
                {"seconds": [4, 6, 8], "sizes": ["1280x720", "720x1280"]},
                {"seconds": [8], "sizes": ["1920x1080", "1080x1920", "3840x2160", "2160x3840"]},
            ],
            "price_per_second_usd": {s: (0.40 if s in ("3840x2160", "2160x3840") else 0.20) for s in VEO_SIZES},
            "price_per_second_with_audio_usd": {
                s: (0.60 if s in ("3840x2160", "2160x3840") else 0.40) for s in VEO_SIZES
            },
            "sources": [LISTING_SOURCE],
        },
        {
            "id": "alibaba/wan-2.6",
            "seconds": [5, 10],
            "sizes": ["1280x720", "1080x1920", "720x1280", "1920x1080"],
            "default_seconds": 5,
            "default_size": "1280x720",
            "audio": "optional",
            "seed": True,
            "frame_images": ["first_frame"],
            "seconds_wire": "integer",
            "duration_param": "duration",
            "sources": [LISTING_SOURCE],
        },
        {
            "id": "kwaivgi/kling-v3.0-pro",
            "seconds": [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
            "sizes": ["1280x720", "720x1280", "720x720"],
            "default_seconds": 5,
            "default_size": "1280x720",
            "audio": "optional",
            "seed": False,
            "frame_images": ["first_frame", "last_frame"],
            "seconds_wire": "integer",
            "duration_param": "duration",
            "price_per_second_usd": {"1280x720": 0.112, "720x1280": 0.112, "720x720": 0.112},
            "price_per_second_with_audio_usd": {"1280x720": 0.168, "720x1280": 0.168, "720x720": 0.168},
        },
        {
            "id": "minimax/hailuo-2.3",
            "seconds": [6, 10],
            "sizes": ["1920x1080"],
            "default_seconds": 6,
            "default_size": "1920x1080",
            "audio": "none",
            "frames": {"1920x1080": {"resolution": "1080p", "aspect_ratio": "16:9"}},
            "seconds_wire": "integer",
            "duration_param": "duration",
            "price_per_second_usd": {"1920x1080": 0.0817},
        },
    ],
    "listed_only": [{"id": "runway/aleph-2", "reason": "the listing gives no durations"}],
}


def catalog() -> Catalog:
    return Catalog.model_validate(CATALOG)


@pytest.fixture(scope="module")
def shared_server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(catalog(), time_scale=0.02, fps=4)) as running:
        yield running


@pytest.fixture
def server(shared_server: SandboxServer) -> SandboxServer:
    shared_server.reset()
    return shared_server


@pytest.fixture
def client(server: SandboxServer) -> Iterator[openrouter.OpenRouter]:
    with openrouter.OpenRouter(api_key="sk-or-test", server_url=server.base_url, retry_config=NO_RETRIES) as sdk:
        yield sdk


def wait_done(client: openrouter.OpenRouter, job_id: str) -> components.VideoGenerationResponse:
    deadline = time.monotonic() + DEADLINE_SECONDS
    seen: list[str] = []
    while time.monotonic() < deadline:
        job = client.video_generation.get_generation(job_id=job_id)
        seen.append(str(job.status))
        if job.status not in ("pending", "in_progress"):
            return job
        time.sleep(0.02)
    raise AssertionError(f"{job_id} did not finish within {DEADLINE_SECONDS} s (statuses {seen[-3:]})")


def frame(url: str, kind: components.FrameType) -> components.FrameImage:
    return components.FrameImage(type="image_url", image_url=components.FrameImageImageURL(url=url), frame_type=kind)


def png(width: int, height: int, colour: tuple[int, int, int] = (30, 160, 90)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def raw(server: SandboxServer, method: str, path: str, **kwargs: Any) -> httpx2.Response:
    headers = kwargs.pop("headers", {"Authorization": "Bearer sk-or-test"})
    return httpx2.request(method, f"{server.url}{path}", headers=headers, **kwargs)


# -- create, poll, download ------------------------------------------------------------------------


def test_create_poll_download_with_the_official_sdk(client: openrouter.OpenRouter, server: SandboxServer) -> None:
    created = client.video_generation.generate(
        model="google/veo-3.1",
        prompt="a lighthouse at dusk",
        duration=8,
        size="1280x720",
        generate_audio=True,
        seed=42,
    )

    assert isinstance(created, components.VideoGenerationResponse)
    assert re.fullmatch(r"[A-Za-z0-9]{20}", created.id)
    assert (created.status, created.polling_url) == ("pending", f"/api/v1/videos/{created.id}")
    assert created.model_dump() == {"id": created.id, "polling_url": created.polling_url, "status": "pending"}

    done = wait_done(client, created.id)

    assert done.status == "completed"
    assert done.unsigned_urls == [f"{server.url}/api/v1/videos/{created.id}/content?index=0"]
    assert done.usage is not None and done.usage.cost == pytest.approx(8 * 0.40) and done.usage.is_byok is False
    assert done.generation_id is not None and done.generation_id.endswith(created.id)
    assert done.error is None

    response = client.video_generation.get_video_content(job_id=created.id, index=0)
    data = response.read()
    assert response.headers["content-type"] == "video/mp4"
    assert data[4:8] == b"ftyp" and int(response.headers["content-length"]) == len(data)
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (1280, 720)
        assert len(container.streams.audio) == 1  # generate_audio=True on an optional-audio model
    record = server.state.job(created.id)
    assert (record.model, record.seconds, record.size, record.cost_usd) == ("google/veo-3.1", 8, "1280x720", 3.2)


def test_poll_answers_carry_no_progress_and_walk_the_openrouter_statuses() -> None:
    bodies: list[dict[str, Any]] = []
    with SandboxServer(SandboxConfig(catalog(), time_scale=0.25, fps=2)) as server:  # 1.5 s jobs: every status seen
        created = raw(server, "POST", "/api/v1/videos", json={"model": "alibaba/wan-2.6", "prompt": "w", "duration": 5})
        assert created.status_code == 202, created.text
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            body = raw(server, "GET", created.json()["polling_url"]).json()
            bodies.append(body)
            if body["status"] == "completed":
                break
            time.sleep(0.01)

    statuses = list(dict.fromkeys(b["status"] for b in bodies))
    assert statuses[-1] == "completed" and set(statuses) <= {"pending", "in_progress", "completed"}
    assert "in_progress" in statuses
    for body in bodies:
        assert "progress" not in body and "model" not in body and "created_at" not in body
    assert set(bodies[0]) == {"id", "polling_url", "status"}
    assert set(bodies[-1]) == {"id", "polling_url", "status", "generation_id", "unsigned_urls", "usage"}
    assert bodies[-1]["usage"] == {"cost": None, "is_byok": False}  # the catalog has no price for Wan 2.6


def test_default_audio_is_off_and_costs_the_without_audio_rate(
    client: openrouter.OpenRouter, server: SandboxServer
) -> None:
    created = client.video_generation.generate(model="google/veo-3.1", prompt="quiet", duration=4, size="720x1280")
    done = wait_done(client, created.id)
    data = client.video_generation.get_video_content(job_id=created.id).read()

    assert done.usage is not None and done.usage.cost == pytest.approx(4 * 0.20)
    with av.open(io.BytesIO(data)) as container:
        assert len(container.streams.audio) == 0


def test_resolution_and_aspect_ratio_choose_the_size(client: openrouter.OpenRouter, server: SandboxServer) -> None:
    portrait = client.video_generation.generate(
        model="google/veo-3.1", prompt="p", duration=8, resolution="4K", aspect_ratio="9:16"
    )
    only_resolution = client.video_generation.generate(model="minimax/hailuo-2.3", prompt="h", resolution="1080p")
    only_aspect = client.video_generation.generate(model="google/veo-3.1", prompt="a", aspect_ratio="9:16")

    assert server.state.job(portrait.id).size == "2160x3840"
    assert server.state.job(portrait.id).cost_usd == pytest.approx(8 * 0.40)
    assert (server.state.job(only_resolution.id).size, server.state.job(only_resolution.id).seconds) == (
        "1920x1080",
        6,
    )
    assert server.state.job(only_aspect.id).size == "720x1280"  # the default size's resolution, 720p


def test_first_and_last_frame_as_data_urls(client: openrouter.OpenRouter, server: SandboxServer) -> None:
    created = client.video_generation.generate(
        model="google/veo-3.1",
        prompt="from red to blue",
        duration=4,
        size="1280x720",
        frame_images=[
            frame(png(640, 360, (220, 20, 20)), "first_frame"),
            frame(png(640, 360, (20, 20, 220)), "last_frame"),
        ],
    )
    assert wait_done(client, created.id).status == "completed"
    data = client.video_generation.get_video_content(job_id=created.id).read()

    with av.open(io.BytesIO(data), "r") as container:
        frames = [image.to_ndarray(format="rgb24") for image in container.decode(video=0)]
    first, last = frames[0], frames[-1]
    assert first[..., 0].mean() > first[..., 2].mean() + 60  # the red first frame
    assert last[..., 2].mean() > last[..., 0].mean() + 60  # the blue last frame


# -- the model listing -----------------------------------------------------------------------------


def test_models_listing_parses_into_the_sdk_types_with_the_catalog_values(client: openrouter.OpenRouter) -> None:
    listing = client.video_generation.list_videos_models()

    assert isinstance(listing, components.VideoModelsListResponse)
    models = {model.id: model for model in listing.data}
    assert list(models) == [
        "google/veo-3.1",
        "alibaba/wan-2.6",
        "kwaivgi/kling-v3.0-pro",
        "minimax/hailuo-2.3",
        "runway/aleph-2",
    ]
    veo = models["google/veo-3.1"]
    assert isinstance(veo, components.VideoModel)
    assert veo.supported_durations == [4, 6, 8]
    assert veo.supported_sizes == VEO_SIZES
    assert veo.supported_resolutions == ["720p", "1080p", "4K"]
    assert veo.supported_aspect_ratios == ["16:9", "9:16"]
    assert veo.supported_frame_images == ["first_frame", "last_frame"]
    assert (veo.generate_audio, veo.seed) == (True, True)
    assert veo.pricing_skus == {
        "duration_seconds_without_audio": "0.2",
        "duration_seconds_without_audio_4k": "0.4",
        "duration_seconds_with_audio": "0.4",
        "duration_seconds_with_audio_4k": "0.6",
    }
    fetched = dt.datetime(2026, 10, 9, 20, 2, 55, tzinfo=dt.UTC)
    assert veo.created == int(fetched.timestamp()) and veo.description == LISTING_SOURCE
    wan = models["alibaba/wan-2.6"]
    assert (wan.supported_frame_images, wan.pricing_skus) == (["first_frame"], None)
    kling = models["kwaivgi/kling-v3.0-pro"]
    assert (kling.seed, kling.supported_aspect_ratios) == (False, ["16:9", "9:16", "1:1"])
    assert kling.pricing_skus == {"duration_seconds_without_audio": "0.112", "duration_seconds_with_audio": "0.168"}
    hailuo = models["minimax/hailuo-2.3"]
    assert (hailuo.supported_durations, hailuo.supported_resolutions) == ([6, 10], ["1080p"])
    assert (hailuo.generate_audio, hailuo.seed) == (False, False)
    assert hailuo.pricing_skus == {"duration_seconds": "0.0817"}
    aleph = models["runway/aleph-2"]
    assert aleph.supported_durations is None and aleph.supported_sizes is None


def test_models_listing_needs_no_key_and_counts_as_its_own_route(server: SandboxServer) -> None:
    response = raw(server, "GET", "/api/v1/videos/models", headers={})

    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.json()["data"][0]["id"] == "google/veo-3.1"
    assert server.state.requests == {"models": 1}


# -- refusals, as the SDK raises them ----------------------------------------------------------------


def bad_request(call: Any) -> str:
    with pytest.raises(or_errors.BadRequestResponseError) as caught:
        call()
    error = caught.value
    assert error.status_code == 400
    assert error.data.error.code == 400
    assert json.loads(error.body) == {"error": {"code": 400, "message": error.data.error.message, "metadata": None}}
    return error.data.error.message


def test_out_of_set_values_are_400s_naming_the_legal_ones(client: openrouter.OpenRouter, server: SandboxServer) -> None:
    generate = client.video_generation.generate

    assert bad_request(lambda: generate(model="google/veo-3.1", prompt="x", duration=5)) == (
        "Invalid duration 5 for google/veo-3.1: supported durations are 4, 6, 8"
    )
    assert bad_request(lambda: generate(model="google/veo-3.1", prompt="x", size="1024x1024")) == (
        "Invalid size 1024x1024 for google/veo-3.1: supported sizes are " + ", ".join(VEO_SIZES)
    )
    assert bad_request(lambda: generate(model="google/veo-3.1", prompt="x", resolution="480p")) == (
        "Invalid resolution 480p for google/veo-3.1: supported resolutions are 720p, 1080p, 4K"
    )
    assert bad_request(lambda: generate(model="minimax/hailuo-2.3", prompt="x", aspect_ratio="9:16")) == (
        "Invalid aspect_ratio 9:16 for minimax/hailuo-2.3: supported aspect ratios are 16:9"
    )
    assert bad_request(lambda: generate(model="google/veo-3.1", prompt="x", duration=4, resolution="1080p")) == (
        "Invalid duration 4 for google/veo-3.1 at 1080p: at 1080p supported durations are 8"
    )
    assert server.state.jobs == ()


def test_both_size_forms_unknown_model_and_missing_prompt(client: openrouter.OpenRouter, server: SandboxServer) -> None:
    generate = client.video_generation.generate

    both = bad_request(lambda: generate(model="google/veo-3.1", prompt="x", size="1280x720", resolution="720p"))
    unknown = bad_request(lambda: generate(model="openai/sora-2-pro", prompt="x"))
    unlisted = bad_request(lambda: generate(model="runway/aleph-2", prompt="x"))
    no_prompt = bad_request(lambda: generate(model="google/veo-3.1"))

    assert both == "Invalid request parameters: specify either size or resolution and aspect_ratio, not both"
    assert unknown == "openai/sora-2-pro is not a valid model ID"
    assert unlisted == "runway/aleph-2 cannot be used for video generation: the listing gives no durations"
    assert no_prompt == "Invalid request parameters: prompt is required for google/veo-3.1"
    assert server.state.jobs == ()


def test_options_only_where_the_model_flags_allow_them(client: openrouter.OpenRouter) -> None:
    generate = client.video_generation.generate
    last = frame(png(64, 36), "last_frame")
    remote = frame("https://example.com/a.png", "first_frame")

    assert bad_request(lambda: generate(model="minimax/hailuo-2.3", prompt="x", generate_audio=True)) == (
        "generate_audio is not supported by minimax/hailuo-2.3"
    )
    assert bad_request(lambda: generate(model="kwaivgi/kling-v3.0-pro", prompt="x", seed=7)) == (
        "seed is not supported by kwaivgi/kling-v3.0-pro"
    )
    assert bad_request(lambda: generate(model="alibaba/wan-2.6", prompt="x", frame_images=[last])) == (
        "last_frame is not supported by alibaba/wan-2.6: supported frame images are first_frame"
    )
    assert "offline sandbox cannot fetch https://example.com/a.png" in bad_request(
        lambda: generate(model="google/veo-3.1", prompt="x", frame_images=[remote])
    )


def test_wire_level_refusals_the_sdk_would_not_send(server: SandboxServer) -> None:
    def post(body: object, **kwargs: Any) -> tuple[int, Any]:
        response = raw(server, "POST", "/api/v1/videos", json=body, **kwargs)
        return response.status_code, response.json()

    def message(text: str) -> dict[str, Any]:
        return {"error": {"code": 400, "message": text, "metadata": None}}

    assert post({"model": "google/veo-3.1", "prompt": "x", "duration": "8"}) == (
        400,
        message("Invalid request parameters: duration must be an integer, not a string"),
    )
    assert post({"model": "google/veo-3.1", "prompt": "x", "seconds": "8"}) == (
        400,
        message("Invalid request parameters: unrecognized field seconds"),
    )
    assert post({"prompt": "x"}) == (400, message("Invalid request parameters: model is required"))
    form = raw(server, "POST", "/api/v1/videos", files={"model": (None, "google/veo-3.1"), "prompt": (None, "x")})
    assert (form.status_code, form.json()) == (
        400,
        message("Invalid request parameters: the request body must be JSON"),
    )
    assert server.state.jobs == ()


def test_authentication_errors_in_openrouter_shape(server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    anonymous = openrouter.OpenRouter(api_key=None, server_url=server.base_url, retry_config=NO_RETRIES)
    with anonymous, pytest.raises(or_errors.UnauthorizedResponseError) as missing:
        anonymous.video_generation.generate(model="google/veo-3.1", prompt="x")
    config = SandboxConfig(catalog(), api_key="sk-or-right", time_scale=0.02)
    with (
        SandboxServer(config) as keyed,
        openrouter.OpenRouter(api_key="sk-or-wrong", server_url=keyed.base_url, retry_config=NO_RETRIES) as wrong,
        pytest.raises(or_errors.UnauthorizedResponseError) as bad_key,
    ):
        wrong.video_generation.get_generation(job_id="S2wge1oFOBzIj1PpFcFu")

    assert missing.value.data.error.code == 401 and missing.value.data.error.message == "Missing Authentication header"
    assert bad_key.value.data.error.message == "User not found."


def test_unknown_job_and_missing_endpoints_are_404s(client: openrouter.OpenRouter, server: SandboxServer) -> None:
    created = client.video_generation.generate(model="google/veo-3.1", prompt="x", duration=4)
    with pytest.raises(or_errors.NotFoundResponseError) as caught:
        client.video_generation.get_generation(job_id="S2wge1oFOBzIj1PpFcFu")

    not_found = {"error": {"code": 404, "message": "Resource not found", "metadata": None}}
    assert json.loads(caught.value.body) == not_found
    for method, path in [
        ("GET", "/api/v1/videos"),  # no list
        ("DELETE", f"/api/v1/videos/{created.id}"),  # no delete
        ("POST", f"/api/v1/videos/{created.id}/remix"),  # no remix
        ("GET", "/v1/videos"),  # not the OpenAI dialect
    ]:
        response = raw(server, method, path)
        assert (response.status_code, response.json()) == (404, not_found), (method, path)
    assert len(server.state.jobs) == 1


# -- job ends ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "status", "error"),
    [
        ("a [blocked] scene", "failed", "Content policy violation"),
        ("a [cancelled] scene", "cancelled", "Job was cancelled"),
        ("a [expired] scene", "expired", "Job exceeded maximum time to live"),
    ],
)
def test_failed_cancelled_and_expired_end_with_a_plain_string_error(
    client: openrouter.OpenRouter, prompt: str, status: str, error: str
) -> None:
    created = client.video_generation.generate(model="google/veo-3.1", prompt=prompt, duration=4)
    done = wait_done(client, created.id)

    assert (done.status, done.error, done.usage, done.unsigned_urls) == (status, error, None, None)
    with pytest.raises(or_errors.NotFoundResponseError):
        client.video_generation.get_video_content(job_id=created.id)


def test_input_moderation_refuses_at_once(client: openrouter.OpenRouter, server: SandboxServer) -> None:
    assert (
        bad_request(lambda: client.video_generation.generate(model="google/veo-3.1", prompt="[blocked-input] a face"))
        == "Content policy violation"
    )
    assert server.state.jobs == ()


def test_content_before_completion_and_past_index_zero(server: SandboxServer) -> None:
    slow = SandboxConfig(catalog(), time_scale=1.0, job_seconds=60, fps=2)
    with (
        SandboxServer(slow) as running,
        openrouter.OpenRouter(api_key="k", server_url=running.base_url, retry_config=NO_RETRIES) as sdk,
    ):
        created = sdk.video_generation.generate(model="google/veo-3.1", prompt="slow", duration=4)
        with pytest.raises(or_errors.ConflictResponseError) as early:
            sdk.video_generation.get_video_content(job_id=created.id)
        with pytest.raises(or_errors.BadRequestResponseError) as negative:
            sdk.video_generation.get_video_content(job_id=created.id, index=-1)

    assert early.value.data.error.code == 409
    assert early.value.data.error.message.endswith("is not complete yet (status: pending)")
    assert negative.value.data.error.message == "Invalid request parameters: index must be 0 or more"


def test_index_beyond_the_single_output(client: openrouter.OpenRouter) -> None:
    created = client.video_generation.generate(model="google/veo-3.1", prompt="one output", duration=4)
    wait_done(client, created.id)

    with pytest.raises(or_errors.NotFoundResponseError) as caught:
        client.video_generation.get_video_content(job_id=created.id, index=1)

    assert caught.value.data.error.message == f"Video generation {created.id} has 1 output; index 1 does not exist"


# -- the same fault injection ------------------------------------------------------------------------


def test_rate_limit_and_server_errors_as_the_sdk_sees_them(
    client: openrouter.OpenRouter, server: SandboxServer
) -> None:
    server.faults.rate_limit_next = 1
    server.faults.retry_after_seconds = 3
    with pytest.raises(or_errors.TooManyRequestsResponseError) as limited:
        client.video_generation.generate(model="google/veo-3.1", prompt="x")
    server.faults.fail_next_requests = 1
    server.faults.routes = frozenset({"retrieve"})
    created = client.video_generation.generate(model="google/veo-3.1", prompt="x", duration=4)
    with pytest.raises(or_errors.InternalServerResponseError) as failed:
        client.video_generation.get_generation(job_id=created.id)
    server.faults.routes = frozenset({"models"})
    server.faults.error_status = 502
    server.faults.fail_next_requests = 1
    with pytest.raises(or_errors.OpenRouterDefaultError) as gateway:
        client.video_generation.list_videos_models()

    assert limited.value.data.error.message == "Rate limit exceeded" and limited.value.headers["retry-after"] == "3"
    assert failed.value.data.error.code == 500 and failed.value.data.error.message == "Internal Server Error"
    assert gateway.value.status_code == 502 and json.loads(gateway.value.body)["error"]["message"] == (
        "Provider returned error"
    )
    assert client.video_generation.get_generation(job_id=created.id).id == created.id
    assert server.state.requests == {"create": 2, "retrieve": 2, "models": 1}


def test_sdk_retries_a_5xx_itself_and_the_create_is_billed_once(server: SandboxServer) -> None:
    server.faults.fail_next_requests = 1
    retry = RetryConfig("backoff", BackoffStrategy(5, 20, 1.5, 2000), False)
    with openrouter.OpenRouter(api_key="k", server_url=server.base_url, retry_config=retry) as sdk:
        created = sdk.video_generation.generate(model="google/veo-3.1", prompt="retried", duration=4)

    assert server.state.requests == {"create": 2}
    assert server.state.job_ids == (created.id,)


def test_a_lost_create_answer_still_made_and_billed_the_job(
    client: openrouter.OpenRouter, server: SandboxServer
) -> None:
    server.faults.drop_next_creates = 1

    with pytest.raises(httpx.TransportError):  # no HTTP answer at all: the connection is reset
        client.video_generation.generate(model="google/veo-3.1", prompt="lost", duration=6, size="720x1280")

    assert [(job.prompt, job.seconds, job.cost_usd) for job in server.state.jobs] == [("lost", 6, 1.2)]


def test_truncated_download_is_short(client: openrouter.OpenRouter, server: SandboxServer) -> None:
    created = client.video_generation.generate(model="google/veo-3.1", prompt="cut", duration=4)
    wait_done(client, created.id)
    server.faults.truncate_downloads = True

    with pytest.raises(httpx.RemoteProtocolError) as caught:  # the SDK's own HTTP client (httpx) sees the cut
        client.video_generation.get_video_content(job_id=created.id).read()

    assert "incomplete" in str(caught.value).lower() or "closed" in str(caught.value).lower()


def test_running_job_limit_latency_and_throttled_download(client: openrouter.OpenRouter, server: SandboxServer) -> None:
    server.faults.max_running_jobs = 1
    server.faults.retry_after_seconds = 2
    first = client.video_generation.generate(model="google/veo-3.1", prompt="one at a time", duration=4)
    with pytest.raises(or_errors.TooManyRequestsResponseError) as busy:
        client.video_generation.generate(model="google/veo-3.1", prompt="second", duration=4)
    wait_done(client, first.id)
    server.faults.max_running_jobs = None
    server.faults.latency_seconds = 0.2
    server.faults.routes = frozenset({"retrieve"})
    started = time.monotonic()
    client.video_generation.get_generation(job_id=first.id)
    slow_poll = time.monotonic() - started
    server.faults.latency_seconds = 0.0
    server.faults.download_bytes_per_second = 200_000
    started = time.monotonic()
    data = client.video_generation.get_video_content(job_id=first.id).read()
    throttled = time.monotonic() - started

    assert busy.value.data.error.message == "Too many running tasks" and busy.value.headers["retry-after"] == "2"
    assert slow_poll >= 0.2
    assert throttled >= 0.8 * len(data) / 200_000 and data[4:8] == b"ftyp"
    assert server.state.job_ids == (first.id,)


def test_expired_content_is_gone_and_the_ledger_is_under_the_api_path(server: SandboxServer) -> None:
    config = SandboxConfig(catalog(), time_scale=0.02, fps=2, asset_ttl_seconds=0.5)
    with (
        SandboxServer(config) as running,
        openrouter.OpenRouter(api_key="k", server_url=running.base_url, retry_config=NO_RETRIES) as sdk,
    ):
        created = sdk.video_generation.generate(model="google/veo-3.1", prompt="short lived", duration=4)
        assert wait_done(sdk, created.id).status == "completed"
        time.sleep(0.6)
        with pytest.raises(or_errors.GoneResponseError) as gone:
            sdk.video_generation.get_video_content(job_id=created.id)
        still = sdk.video_generation.get_generation(job_id=created.id)
        ledger = httpx2.get(f"{running.base_url}/sandbox/ledger", headers={"Authorization": "Bearer k"}).json()

    assert gone.value.data.error.code == 410
    assert gone.value.data.error.message == f"The output of video generation {created.id} is no longer available"
    assert still.status == "completed"  # the job stays completed; only its output is gone
    assert ledger["object"] == "sandbox.ledger" and ledger["billed_usd"] == pytest.approx(0.8)


# -- configuration and the standalone command --------------------------------------------------------


def test_the_dialect_follows_the_catalog_unless_given() -> None:
    openrouter_config = SandboxConfig(catalog())
    forced = SandboxConfig(catalog(), dialect="openai")

    assert (openrouter_config.dialect, openrouter_config.wire, openrouter_config.api_path) == (
        "openrouter",
        "openrouter",
        "/api/v1",
    )
    assert (forced.wire, forced.api_path) == ("openai", "/v1")
    with pytest.raises(ValueError, match="dialect must be one of openai, openrouter, new-api"):
        SandboxConfig(catalog(), dialect="litellm")  # type: ignore[arg-type]


def test_jobs_persist_their_audio_and_seed_across_servers(tmp_path: Path) -> None:
    config = SandboxConfig(catalog(), time_scale=0.02, fps=2, storage_dir=tmp_path / "store")
    with (
        SandboxServer(config) as first,
        openrouter.OpenRouter(api_key="k", server_url=first.base_url, retry_config=NO_RETRIES) as sdk,
    ):
        created = sdk.video_generation.generate(
            model="google/veo-3.1", prompt="kept", duration=6, size="720x1280", generate_audio=True, seed=9
        )
    with (
        SandboxServer(config) as second,
        openrouter.OpenRouter(api_key="k", server_url=second.base_url, retry_config=NO_RETRIES) as sdk,
    ):
        done = wait_done(sdk, created.id)
        job = second.service.store.get(created.id)

    assert (job.audio, job.seed) == (True, 9)
    assert done.usage is not None and done.usage.cost == pytest.approx(6 * 0.40)


def read_line(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, f"no startup line before {deadline}; stderr: {process.stderr.read() if process.stderr else ''}"
    return line


def test_standalone_command_speaks_openrouter_with_its_profile() -> None:
    command = [sys.executable, "-m", "sora_mcp.sandbox.command", "sandbox", "--port", "0", "--dialect", "openrouter"]
    command += ["--time-scale", "0.02"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = read_line(process, time.monotonic() + 30)
        base_url = line.split()[3]
        with openrouter.OpenRouter(api_key="k", server_url=base_url, retry_config=NO_RETRIES) as sdk:
            listing = sdk.video_generation.list_videos_models()
            created = sdk.video_generation.generate(model="minimax/hailuo-2.3", prompt="standalone")
            done = wait_done(sdk, created.id)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    hailuo = load_builtin("openrouter").find("minimax/hailuo-2.3")

    assert line.endswith("(profile openrouter, dialect openrouter)\n") and base_url.endswith("/api/v1")
    assert [m.id for m in listing.data][:2] == ["google/veo-3.1", "alibaba/wan-2.6"]
    assert hailuo is not None and done.status == "completed" and done.usage is not None
    assert done.usage.cost == hailuo.cost(hailuo.default_seconds, hailuo.default_size) == pytest.approx(6 * 0.0817)
    assert process.returncode == 0


@pytest.mark.parametrize("kind", ["catalog", "listing"])
def test_standalone_command_takes_the_dialect_from_a_catalog_or_listing_file(tmp_path: Path, kind: str) -> None:
    """A catalog file in sora-mcp's format, or OpenRouter's own listing saved to a file: both speak OpenRouter."""
    catalog_file = tmp_path / "catalog.json"
    catalog_file.write_text(json.dumps(CATALOG) if kind == "catalog" else SNAPSHOT.read_text(encoding="utf-8"))
    command = [sys.executable, "-m", "sora_mcp.sandbox.command", "sandbox", "--port", "0"]
    command += ["--catalog", str(catalog_file), "--time-scale", "0.02"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = read_line(process, time.monotonic() + 30)
        base_url = line.split()[3]
        models = httpx2.get(f"{base_url}/videos/models").json()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)

    profile = "openrouter-test" if kind == "catalog" else "openrouter"
    assert line.endswith(f"(profile {profile}, dialect openrouter)\n")  # the file's own dialect
    ids = [m["id"] for m in models["data"]]
    if kind == "catalog":
        assert ids == [m["id"] for m in CATALOG["models"]] + ["runway/aleph-2"]
    else:
        assert ids == [m["id"] for m in json.loads(SNAPSHOT.read_text(encoding="utf-8"))["data"]]


# -- the shipped openrouter profile against the provider's own listing -------------------------------


@pytest.fixture(scope="module")
def profile_server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(load_builtin("openrouter"), time_scale=0.02, fps=1)) as running:
        yield running


def test_the_openrouter_profile_is_listed_as_openrouter_listed_it(profile_server: SandboxServer) -> None:
    """The sandbox's listing of the shipped profile, parsed by the SDK, against the 2026-10-09 snapshot (kept
    trimmed: without `name` and `created`, so it is compared as JSON)."""
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))["data"]
    with openrouter.OpenRouter(api_key="k", server_url=profile_server.base_url, retry_config=NO_RETRIES) as sdk:
        served = {model.id: model for model in sdk.video_generation.list_videos_models().data}

    assert [m["id"] for m in snapshot] == list(served)
    checked = 0
    for original in snapshot:
        mine = served[original["id"]]
        assert sorted(original["supported_durations"] or []) == (mine.supported_durations or []), original["id"]
        assert original.get("supported_sizes") == mine.supported_sizes, original["id"]
        for field in ("supported_resolutions", "supported_aspect_ratios", "supported_frame_images"):
            assert set(original.get(field) or []) == set(getattr(mine, field) or []), (original["id"], field)
        if original["supported_durations"]:
            assert bool(original.get("generate_audio")) == mine.generate_audio, original["id"]  # null: not offered
            assert bool(original.get("seed")) == mine.seed, original["id"]
            checked += 1
        else:
            assert mine.supported_durations is None and mine.generate_audio is None, original["id"]
    assert checked == 18


def test_the_listing_round_trips_through_the_listing_builder(profile_server: SandboxServer) -> None:
    """What the sandbox lists builds the same catalog again: values, options and per-second prices."""
    shipped = load_builtin("openrouter")
    listed = httpx2.get(f"{profile_server.base_url}/videos/models").json()
    rebuilt = catalog_from_listing(listed, fetched_at=shipped.fetched_at, source="sandbox listing")

    assert [m.id for m in rebuilt.models] == [m.id for m in shipped.models]
    assert [m.id for m in rebuilt.listed_only] == [m.id for m in shipped.listed_only]
    for before, after in zip(shipped.models, rebuilt.models, strict=True):
        same = ("seconds", "sizes", "frames", "audio", "seed", "frame_images", "default_size")
        assert {f: getattr(after, f) for f in same} == {f: getattr(before, f) for f in same}, before.id
        for size in before.sizes:
            for audio in (False, True):
                assert after.cost(8, size, audio) == before.cost(8, size, audio), (before.id, size, audio)


def test_every_model_of_the_profile_accepts_its_legal_request_in_its_own_form(profile_server: SandboxServer) -> None:
    profile_server.reset()
    shipped = load_builtin("openrouter")
    accepted: dict[str, str] = {}
    with openrouter.OpenRouter(api_key="k", server_url=profile_server.base_url, retry_config=NO_RETRIES) as sdk:
        for model in shipped.models:
            seconds, sizes = model.rectangles()[0]
            size = min(sizes, key=lambda s: Size.parse(s).area)
            spelled = model.frame(size)
            if spelled is None:
                job = sdk.video_generation.generate(model=model.id, prompt="p", duration=seconds[0], size=size)
            else:
                job = sdk.video_generation.generate(
                    model=model.id,
                    prompt="p",
                    duration=seconds[0],
                    resolution=spelled.resolution,
                    aspect_ratio=spelled.aspect_ratio,
                )
            accepted[model.id] = profile_server.state.job(job.id).size
            assert (job.status, profile_server.state.job(job.id).seconds) == ("pending", seconds[0])
    profile_server.reset()

    assert len(accepted) == len(shipped.models) == 18
