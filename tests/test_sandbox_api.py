"""Every endpoint of the sandbox, driven by the real `openai` client over HTTP on loopback."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator

import httpx2
import openai
import pytest
from openai.types import Video
from PIL import Image

from sora_mcp.catalog import load_builtin
from sora_mcp.sandbox import SandboxConfig, SandboxServer

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")

DEADLINE_SECONDS = 30.0


@pytest.fixture(scope="module")
def shared_server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(load_builtin("openai"), time_scale=0.02, fps=4)) as running:
        yield running


@pytest.fixture
def server(shared_server: SandboxServer) -> SandboxServer:
    """One server for the module, wiped before each test (jobs, files, counts and faults)."""
    shared_server.reset()
    return shared_server


@pytest.fixture
def client(server: SandboxServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as sdk:
        yield sdk


def wait_done(client: openai.OpenAI, video_id: str) -> Video:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        video = client.videos.retrieve(video_id)
        if video.status in ("completed", "failed"):
            return video
        time.sleep(0.02)
    raise AssertionError(f"{video_id} did not finish within {DEADLINE_SECONDS} s")


def png(width: int, height: int, colour: tuple[int, int, int] = (200, 30, 90)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def test_create_with_the_sdk_returns_a_queued_video_object(client: openai.OpenAI, server: SandboxServer) -> None:
    video = client.videos.create(prompt="a lighthouse at dusk", model="sora-2", seconds="8", size="1280x720")

    raw = video.model_dump()
    assert set(raw) == {
        "id",
        "object",
        "created_at",
        "status",
        "model",
        "progress",
        "prompt",
        "seconds",
        "size",
        "completed_at",
        "expires_at",
        "error",
        "remixed_from_video_id",
    }
    assert video.id.startswith("video_")
    assert (video.object, video.status, video.progress) == ("video", "queued", 0)
    assert (video.model, video.seconds, video.size, video.prompt) == ("sora-2", "8", "1280x720", "a lighthouse at dusk")
    assert abs(video.created_at - time.time()) < 5
    assert video.completed_at is None and video.expires_at is None and video.error is None
    assert server.state.job_ids == (video.id,)


def test_create_defaults_come_from_the_catalog(client: openai.OpenAI) -> None:
    video = client.videos.create(prompt="defaults")

    assert (video.model, video.seconds, video.size) == ("sora-2", "4", "720x1280")


def test_create_accepts_a_json_body(client: openai.OpenAI) -> None:
    video = client.post("/videos", body={"prompt": "json body", "seconds": "12", "size": "1280x720"}, cast_to=Video)

    assert (video.seconds, video.size, video.status) == ("12", "1280x720", "queued")


def test_an_alias_is_accepted_and_echoed(client: openai.OpenAI) -> None:
    video = client.videos.create(prompt="snapshot", model="sora-2-pro-2025-10-06", size="1792x1024")

    assert video.model == "sora-2-pro-2025-10-06"


def test_retrieve_returns_the_same_job_and_a_poll_hint(client: openai.OpenAI, server: SandboxServer) -> None:
    created = client.videos.create(prompt="retrieve me")

    response = client.videos.with_raw_response.retrieve(created.id)
    video = response.parse()

    assert video.id == created.id and video.prompt == "retrieve me"
    assert response.headers["openai-poll-after-ms"] == str(server.config.poll_after)
    assert response.headers["x-request-id"].startswith("req_")


def test_sdk_poll_reaches_completed(client: openai.OpenAI) -> None:
    created = client.videos.create(prompt="poll me")

    video = client.videos.poll(created.id)

    assert video.status == "completed" and video.progress == 100
    assert video.completed_at is not None and video.completed_at >= video.created_at
    assert video.expires_at == video.completed_at + 3600


def test_list_pages_with_cursor_limit_and_order(client: openai.OpenAI) -> None:
    ids = [client.videos.create(prompt=f"clip {n}").id for n in range(5)]

    first = client.videos.list(limit=2)
    assert [v.id for v in first.data] == ids[::-1][:2]
    assert first.has_more is True

    second = client.videos.list(limit=2, after=first.data[-1].id)
    assert [v.id for v in second.data] == ids[::-1][2:4]

    ascending = client.videos.list(order="asc", limit=100)
    assert [v.id for v in ascending.data] == ids
    assert ascending.has_more is False

    everything = [v.id for v in client.videos.list(limit=2)]  # the SDK follows the cursor itself
    assert everything == ids[::-1]


def test_list_wire_shape_including_first_and_last_id(client: openai.OpenAI, server: SandboxServer) -> None:
    ids = [client.videos.create(prompt=f"clip {n}").id for n in range(3)]

    body = httpx2.get(
        f"{server.base_url}/videos", params={"limit": 2, "order": "asc"}, headers={"Authorization": "Bearer k"}
    ).json()
    empty = httpx2.get(f"{server.base_url}/videos", params={"limit": 0}, headers={"Authorization": "Bearer k"}).json()

    assert body["object"] == "list"
    assert [v["id"] for v in body["data"]] == ids[:2]
    assert (body["first_id"], body["last_id"], body["has_more"]) == (ids[0], ids[1], True)
    assert empty == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": True}


def test_delete_removes_a_finished_video_but_the_ledger_keeps_it(client: openai.OpenAI, server: SandboxServer) -> None:
    video = wait_done(client, client.videos.create(prompt="short lived").id)

    deleted = client.videos.delete(video.id)

    assert deleted.model_dump() == {"id": video.id, "object": "video.deleted", "deleted": True}
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    assert client.videos.list().data == []
    record = server.state.job(video.id)
    assert record.deleted is True and record.billed_seconds == 4


@pytest.mark.parametrize(
    ("variant", "media_type", "magic"),
    [("video", "video/mp4", b"ftyp"), ("thumbnail", "image/webp", b"WEBP"), ("spritesheet", "image/jpeg", b"\xff\xd8")],
)
def test_download_each_variant(client: openai.OpenAI, variant: str, media_type: str, magic: bytes) -> None:
    video = wait_done(client, client.videos.create(prompt="download me", size="1280x720").id)

    response = client.videos.download_content(video.id, variant=variant)  # type: ignore[arg-type]

    assert response.response.headers["content-type"] == media_type
    assert int(response.response.headers["content-length"]) == len(response.content) > 1000
    assert magic in response.content[:16]


def test_remix_creates_a_new_billed_job_that_names_its_source(client: openai.OpenAI, server: SandboxServer) -> None:
    source = wait_done(client, client.videos.create(prompt="original", seconds="8").id)

    remix = client.videos.remix(source.id, prompt="same, but at night")

    assert remix.id != source.id
    assert remix.remixed_from_video_id == source.id
    assert (remix.prompt, remix.seconds, remix.size, remix.model) == ("same, but at night", "8", source.size, "sora-2")
    assert wait_done(client, remix.id).status == "completed"
    assert server.state.billed_seconds == 16


def test_extension_by_id_stitches_the_total_and_bills_the_step(client: openai.OpenAI, server: SandboxServer) -> None:
    source = wait_done(client, client.videos.create(prompt="start", seconds="4", size="1280x720").id)

    extended = client.post(
        "/videos/extensions", body={"video": {"id": source.id}, "prompt": "go on", "seconds": "8"}, cast_to=Video
    )

    assert extended.seconds == "12"
    assert wait_done(client, extended.id).status == "completed"
    assert server.state.job(extended.id).billed_seconds == 8
    assert server.state.billed_seconds == 12


def test_extension_with_the_sdk_uploading_the_downloaded_file(client: openai.OpenAI, server: SandboxServer) -> None:
    source = wait_done(client, client.videos.create(prompt="start", seconds="4", size="1280x720").id)
    mp4 = client.videos.download_content(source.id).content

    extended = client.videos.extend(video=("clip.mp4", mp4, "video/mp4"), prompt="more", seconds="4")

    assert extended.seconds == "8"
    assert server.state.job(extended.id).source_video_id == source.id  # traced back through the file's metadata


def test_edit_by_id_and_by_upload(client: openai.OpenAI, server: SandboxServer) -> None:
    source = wait_done(client, client.videos.create(prompt="before", seconds="4", size="1280x720").id)
    mp4 = client.videos.download_content(source.id).content

    by_id = client.post("/videos/edits", body={"video": {"id": source.id}, "prompt": "after"}, cast_to=Video)
    by_upload = client.videos.edit(video=("clip.mp4", mp4, "video/mp4"), prompt="after, again")

    for edited in (by_id, by_upload):
        assert (edited.seconds, edited.size, edited.status) == ("4", "1280x720", "queued")
        assert edited.remixed_from_video_id is None
        assert server.state.job(edited.id).kind == "edit"
    assert wait_done(client, by_upload.id).status == "completed"


def test_multipart_bracketed_video_id_is_accepted(client: openai.OpenAI, server: SandboxServer) -> None:
    source = wait_done(client, client.videos.create(prompt="before").id)

    response = httpx2.post(
        f"{server.base_url}/videos/edits",
        headers={"Authorization": "Bearer k"},
        files={"video[id]": (None, source.id), "prompt": (None, "form edit")},
    )

    assert response.status_code == 200
    assert response.json()["prompt"] == "form edit"


def test_reference_as_upload_data_url_and_file_id(client: openai.OpenAI) -> None:
    image = png(1280, 720)
    uploaded = client.files.create(file=("ref.png", image, "image/png"), purpose="vision")
    data_url = "data:image/png;base64," + base64.b64encode(image).decode()

    as_file = client.videos.create(prompt="from file", size="1280x720", input_reference=("ref.png", image, "image/png"))
    as_url = client.post(
        "/videos", body={"prompt": "url", "size": "1280x720", "input_reference": {"image_url": data_url}}, cast_to=Video
    )
    as_id = client.post(
        "/videos",
        body={"prompt": "id", "size": "1280x720", "input_reference": {"file_id": uploaded.id}},
        cast_to=Video,
    )
    # The SDK itself refuses a dict here (it insists on a file), so forms carry it as bracketed keys.
    as_form = httpx2.post(
        f"{client.base_url}videos",
        headers={"Authorization": "Bearer k"},
        files={"prompt": (None, "form"), "size": (None, "1280x720"), "input_reference[image_url]": (None, data_url)},
    )
    assert as_form.status_code == 200, as_form.text
    via_form = Video.model_validate(as_form.json())

    assert uploaded.id.startswith("file-")
    for video in (as_file, as_url, as_id, via_form):
        assert video.status == "queued"
        assert wait_done(client, video.id).status == "completed"


def test_ledger_route_reports_jobs_and_billing(client: openai.OpenAI, server: SandboxServer) -> None:
    first = client.videos.create(prompt="one", model="sora-2-pro", size="1792x1024", seconds="8")
    client.videos.create(prompt="two", seconds="4")

    ledger = client.get("/sandbox/ledger", cast_to=object)

    assert isinstance(ledger, dict)
    assert ledger["object"] == "sandbox.ledger"
    assert [job["prompt"] for job in ledger["jobs"]] == ["one", "two"]
    assert ledger["billed_seconds"] == 12
    assert ledger["billed_usd"] == pytest.approx(8 * 0.5 + 4 * 0.1)
    assert ledger["jobs"][0]["id"] == first.id and ledger["jobs"][0]["cost_usd"] == pytest.approx(4.0)
    assert ledger["requests"] == {"create": 2}


def test_unknown_route_answers_in_the_api_error_shape(server: SandboxServer) -> None:
    response = httpx2.put(f"{server.base_url}/videos", headers={"Authorization": "Bearer k"})

    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "Invalid URL (PUT /v1/videos)",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }


def test_a_configured_key_is_the_only_key() -> None:
    config = SandboxConfig(load_builtin("openai"), api_key="sk-right-key-123", time_scale=0.02)
    with SandboxServer(config) as keyed:
        good = openai.OpenAI(base_url=keyed.base_url, api_key="sk-right-key-123", max_retries=0)
        bad = openai.OpenAI(base_url=keyed.base_url, api_key="sk-wrong-key-456", max_retries=0)
        assert good.videos.list().data == []
        with pytest.raises(openai.AuthenticationError) as caught:
            bad.videos.list()
    assert caught.value.body == {
        "message": (
            "Incorrect API key provided: sk-*********-456. "
            "You can find your API key at https://platform.openai.com/account/api-keys."
        ),
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }


def test_azure_style_api_key_header_is_accepted(server: SandboxServer) -> None:
    response = httpx2.get(f"{server.base_url}/videos", headers={"api-key": "azure-key"})

    assert response.status_code == 200


@pytest.mark.anyio
async def test_async_client_against_a_server_started_inside_the_loop() -> None:
    config = SandboxConfig(load_builtin("azure"), time_scale=0.02, fps=4)
    server = SandboxServer(config)
    async with server as running, openai.AsyncOpenAI(base_url=running.base_url, api_key="k", max_retries=0) as client:
        created = await client.videos.create(prompt="async", model="sora-2")
        video = await client.videos.poll(created.id, poll_interval_ms=20)
        content = await client.videos.download_content(video.id)
    assert video.status == "completed"
    assert content.content[4:8] == b"ftyp"
    assert not running.running
