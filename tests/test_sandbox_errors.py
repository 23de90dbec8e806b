"""Every refusal of the sandbox, compared field by field (message, type, param, code) for each profile rule.

Requests go through the real `openai` client (JSON via `client.post`, multipart via `client.videos.*`) or,
where the client cannot send the broken request at all (no key, bad JSON), through raw HTTP.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import openai
import pytest
from openai.types import Video
from PIL import Image

from sora_mcp.api_errors import INPUT_MODERATION, REFERENCE_SIZE_MISMATCH
from sora_mcp.catalog import Catalog, ExtensionLimits, load_builtin
from sora_mcp.sandbox import SandboxConfig, SandboxServer

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")

Body = dict[str, Any]


def error(message: str, param: str | None = None, code: str | None = None, type: str = "invalid_request_error") -> Body:
    return {"message": message, "type": type, "param": param, "code": code}


def refusal(call: Callable[[], object]) -> tuple[int, Body]:
    """Status and error body of a refused call; the wire body must be exactly `{"error": {4 fields}}`."""
    with pytest.raises(openai.APIStatusError) as caught:
        call()
    raw = caught.value.response.json()
    assert list(raw) == ["error"]
    assert sorted(raw["error"]) == ["code", "message", "param", "type"]
    assert caught.value.body == raw["error"]
    return caught.value.status_code, raw["error"]


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, SandboxServer]]:
    started: dict[str, SandboxServer] = {}
    try:
        for profile in ("openai", "apiyi", "azure"):
            config = SandboxConfig(load_builtin(profile), time_scale=0.02, fps=2)
            started[profile] = SandboxServer(config).start()
        yield started
    finally:
        for server in started.values():
            server.stop()


def client_for(server: SandboxServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)


@pytest.fixture(scope="module")
def openai_client(servers: dict[str, SandboxServer]) -> openai.OpenAI:
    return client_for(servers["openai"])


def post(client: openai.OpenAI, path: str, body: Body) -> Callable[[], object]:
    return lambda: client.post(path, body=body, cast_to=Video)


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


# -- the catalog's model / seconds / size rules, per profile ------------------------------------------------

MODEL_CASES = [
    (
        "openai",
        "Invalid value: 'sora-1-turbo'. Supported values are: 'sora-2', 'sora-2-2025-10-06', 'sora-2-2025-12-08', "
        "'sora-2-pro', and 'sora-2-pro-2025-10-06'.",
    ),
    ("apiyi", "Invalid value: 'sora-1-turbo'. Supported values are: 'sora-2' and 'sora-2-pro'."),
    ("azure", "Invalid value: 'sora-1-turbo'. Supported values are: 'sora-2'."),
]


@pytest.mark.parametrize(("profile", "message"), MODEL_CASES)
def test_unknown_model(servers: dict[str, SandboxServer], profile: str, message: str) -> None:
    client = client_for(servers[profile])

    status, body = refusal(lambda: client.videos.create(prompt="x", model="sora-1-turbo"))

    assert status == 400
    assert body == error(message, "model", "invalid_value")


SECONDS_CASES = [
    ("openai", "sora-2", "10", "Invalid value: '10'. Supported values are: '4', '8', and '12'."),
    ("openai", "sora-2-pro", "16", "Invalid value: '16'. Supported values are: '4', '8', and '12'."),
    ("apiyi", "sora-2", "10", "Invalid value: '10'. Supported values are: '4', '8', and '12'."),
    ("apiyi", "sora-2-pro", "12", "Invalid value: '12'. Supported values are: '10', '15', and '25'."),
    ("azure", "sora-2", "5", "Invalid value: '5'. Supported values are: '4', '8', and '12'."),
]


@pytest.mark.parametrize(("profile", "model", "seconds", "message"), SECONDS_CASES)
def test_seconds_not_allowed_for_the_model(
    servers: dict[str, SandboxServer], profile: str, model: str, seconds: str, message: str
) -> None:
    client = client_for(servers[profile])

    status, body = refusal(lambda: client.videos.create(prompt="x", model=model, seconds=seconds))  # type: ignore[arg-type]

    assert status == 400
    assert body == error(message, "seconds", "invalid_value")


SIZE_CASES = [
    (
        "openai",
        "sora-2-pro",
        "1920x1080",
        "Invalid value: '1920x1080'. Supported values are: '720x1280', '1280x720', '1024x1792', and '1792x1024'.",
    ),
    ("openai", "sora-2", "1792x1024", "Invalid value: '1792x1024'. Supported values are: '720x1280' and '1280x720'."),
    ("apiyi", "sora-2", "1792x1024", "Invalid value: '1792x1024'. Supported values are: '1280x720' and '720x1280'."),
    ("azure", "sora-2", "1280X720", "Invalid value: '1280X720'. Supported values are: '720x1280' and '1280x720'."),
]


@pytest.mark.parametrize(("profile", "model", "size", "message"), SIZE_CASES)
def test_size_not_allowed_for_the_model(
    servers: dict[str, SandboxServer], profile: str, model: str, size: str, message: str
) -> None:
    client = client_for(servers[profile])

    status, body = refusal(lambda: client.videos.create(prompt="x", model=model, size=size))  # type: ignore[arg-type]

    assert status == 400
    assert body == error(message, "size", "invalid_value")


@pytest.mark.parametrize("profile", ["openai", "azure"])
def test_integer_seconds_in_json_is_refused_where_the_wire_wants_strings(
    servers: dict[str, SandboxServer], profile: str
) -> None:
    client = client_for(servers[profile])

    status, body = refusal(post(client, "/videos", {"prompt": "x", "seconds": 8}))

    assert status == 400
    assert body == error(
        "Invalid type for 'seconds': expected one of '4', '8', or '12', but got an integer instead.",
        "seconds",
        "invalid_type",
    )


def test_integer_seconds_in_json_is_accepted_where_the_wire_wants_integers(servers: dict[str, SandboxServer]) -> None:
    client = client_for(servers["apiyi"])

    video = client.post("/videos", body={"prompt": "x", "model": "sora-2-pro", "seconds": 15}, cast_to=Video)
    status, body = refusal(post(client, "/videos", {"prompt": "x", "model": "sora-2-pro", "seconds": 12}))

    assert video.seconds == "15"
    assert (status, body) == (
        400,
        error("Invalid value: '12'. Supported values are: '10', '15', and '25'.", "seconds", "invalid_value"),
    )


def test_seconds_of_another_json_type(openai_client: openai.OpenAI) -> None:
    status, body = refusal(post(openai_client, "/videos", {"prompt": "x", "seconds": 8.0}))

    assert (status, body) == (
        400,
        error(
            "Invalid type for 'seconds': expected one of '4', '8', or '12', but got a decimal number instead.",
            "seconds",
            "invalid_type",
        ),
    )


def test_retired_model_is_not_found(openai_client: openai.OpenAI) -> None:
    base = load_builtin("openai")
    retired = base.models[0].model_copy(update={"status": "retired"})
    catalog = Catalog(profile="retired", models=(retired, *base.models[1:]))
    with SandboxServer(SandboxConfig(catalog, time_scale=0.02)) as server:
        status, body = refusal(lambda: client_for(server).videos.create(prompt="x", model="sora-2"))

    assert (status, body) == (
        404,
        error("The model `sora-2` does not exist or you do not have access to it.", None, "model_not_found"),
    )


# -- fields and prompt ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"prompt": "x", "duration": 10}, error("Unknown parameter: 'duration'.", "duration", "unknown_parameter")),
        (
            {"prompt": "x", "input_reference": {"image_url": "data:,", "detail": "high"}},
            error("Unknown parameter: 'input_reference.detail'.", "input_reference.detail", "unknown_parameter"),
        ),
        ({"model": "sora-2"}, error("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")),
        (
            {"prompt": ""},
            error(
                "Invalid 'prompt': empty string. Expected a string with minimum length 1, "
                "but got an empty string instead.",
                "prompt",
                "empty_string",
            ),
        ),
        (
            {"prompt": "p" * 32001},
            error(
                "Invalid 'prompt': string too long. Expected a string with maximum length 32000, "
                "but got a string with length 32001 instead.",
                "prompt",
                "string_above_max_length",
            ),
        ),
        (
            {"prompt": 42},
            error(
                "Invalid type for 'prompt': expected a string, but got an integer instead.", "prompt", "invalid_type"
            ),
        ),
        (
            {"prompt": "x", "model": ["sora-2"]},
            error("Invalid type for 'model': expected a string, but got an array instead.", "model", "invalid_type"),
        ),
        (
            {"prompt": "a portrait of a real person [blocked-input]"},
            error(INPUT_MODERATION, None, "moderation_blocked"),
        ),
    ],
    ids=[
        "unknown",
        "unknown-nested",
        "missing-prompt",
        "empty-prompt",
        "long-prompt",
        "prompt-type",
        "model-type",
        "mod",
    ],
)
def test_create_field_rules(openai_client: openai.OpenAI, body: Body, expected: Body) -> None:
    assert refusal(post(openai_client, "/videos", body)) == (400, expected)


def test_longest_prompt_is_accepted(openai_client: openai.OpenAI) -> None:
    video = openai_client.videos.create(prompt="p" * 32000)

    assert len(video.prompt or "") == 32000


# -- reference images -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (360, 640), (721, 1280)])
def test_reference_must_match_the_size_exactly(openai_client: openai.OpenAI, width: int, height: int) -> None:
    image = png(width, height)

    status, body = refusal(
        lambda: openai_client.videos.create(
            prompt="x", size="720x1280", input_reference=("ref.png", image, "image/png")
        )
    )

    assert (status, body) == (400, error(REFERENCE_SIZE_MISMATCH))
    assert body["message"] == "Inpaint image must match the requested width and height"


def test_reference_of_the_right_size_is_accepted(openai_client: openai.OpenAI) -> None:
    image = png(720, 1280)

    video = openai_client.videos.create(prompt="x", size="720x1280", input_reference=("r.png", image, "image/png"))

    assert video.status == "queued"


def test_reference_in_an_unsupported_format(openai_client: openai.OpenAI) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (720, 1280)).save(buffer, "GIF")

    status, body = refusal(
        lambda: openai_client.videos.create(
            prompt="x", size="720x1280", input_reference=("r.gif", buffer.getvalue(), "image/gif")
        )
    )

    assert (status, body) == (
        400,
        error(
            "Invalid value: 'image/gif'. Supported values are: 'image/jpeg', 'image/png', and 'image/webp'.",
            "input_reference",
            "invalid_value",
        ),
    )


def test_reference_that_is_not_an_image(openai_client: openai.OpenAI) -> None:
    status, body = refusal(
        lambda: openai_client.videos.create(prompt="x", input_reference=("r.png", b"not an image", "image/png"))
    )

    assert (status, body) == (
        400,
        error(
            "Invalid 'input_reference': the file is not a readable JPEG, PNG or WebP image.",
            "input_reference",
            "invalid_value",
        ),
    )


@pytest.mark.parametrize(
    ("reference", "status", "expected"),
    [
        (
            {"image_url": "data:image/png;base64,AAAA", "file_id": "file-1"},
            400,
            error(
                "Invalid 'input_reference': provide exactly one of 'image_url' or 'file_id'.",
                "input_reference",
                "invalid_value",
            ),
        ),
        (
            {"image_url": "https://example.com/cat.png"},
            400,
            error(
                "Invalid 'input_reference.image_url': the offline sandbox cannot fetch 'https://example.com/cat.png'. "
                "Send the image as an upload or as a data: URL.",
                "input_reference.image_url",
                "invalid_value",
            ),
        ),
        (
            {"image_url": "data:image/png;base64,@@@"},
            400,
            error(
                "Invalid 'input_reference.image_url': expected a base64-encoded data URL of an image "
                "(data:image/png;base64,...).",
                "input_reference.image_url",
                "invalid_value",
            ),
        ),
        ({"file_id": "file-nope"}, 404, error("No such File object: file-nope", "input_reference.file_id")),
    ],
    ids=["both", "remote-url", "bad-base64", "unknown-file"],
)
def test_reference_object_rules(openai_client: openai.OpenAI, reference: Body, status: int, expected: Body) -> None:
    assert refusal(post(openai_client, "/videos", {"prompt": "x", "input_reference": reference})) == (status, expected)


# -- authentication, ids, lifecycle ---------------------------------------------------------------------------


def test_no_api_key(servers: dict[str, SandboxServer]) -> None:
    response = httpx2.get(f"{servers['openai'].base_url}/videos")

    assert response.status_code == 401
    assert response.json() == {
        "error": error(
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer "
            "auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're "
            "accessing the API from your browser and are prompted for a username and password. You can obtain an "
            "API key from https://platform.openai.com/account/api-keys."
        )
    }


def test_blank_bearer_is_no_key(servers: dict[str, SandboxServer]) -> None:
    response = httpx2.get(f"{servers['openai'].base_url}/videos/video_x", headers={"Authorization": "Bearer"})

    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("You didn't provide an API key.")


@pytest.mark.parametrize("call", ["retrieve", "delete", "download_content", "remix"])
def test_unknown_video_id(openai_client: openai.OpenAI, call: str) -> None:
    method = getattr(openai_client.videos, call)
    args: Body = {"prompt": "x"} if call == "remix" else {}

    status, body = refusal(lambda: method("video_nope", **args))

    assert (status, body) == (404, error("No video found with id 'video_nope'.", "video_id"))


@pytest.fixture(scope="module")
def slow_client() -> Iterator[openai.OpenAI]:
    """A sandbox whose jobs take a minute: everything here is still in progress."""
    config = SandboxConfig(load_builtin("openai"), job_seconds=60.0, fps=2)
    with SandboxServer(config) as server:
        yield client_for(server)


def test_download_before_completion(slow_client: openai.OpenAI) -> None:
    video = slow_client.videos.create(prompt="not yet")

    status, body = refusal(lambda: slow_client.videos.download_content(video.id))

    assert (status, body) == (
        404,
        error(
            f"Video '{video.id}' is not ready yet (status: queued). "
            "Poll GET /v1/videos/{video_id} until its status is 'completed', then download.",
            "video_id",
        ),
    )


def test_unfinished_jobs_cannot_be_deleted_remixed_edited_or_extended(slow_client: openai.OpenAI) -> None:
    video = slow_client.videos.create(prompt="busy")

    deleted = refusal(lambda: slow_client.videos.delete(video.id))
    remixed = refusal(lambda: slow_client.videos.remix(video.id, prompt="again"))
    edited = refusal(post(slow_client, "/videos/edits", {"video": {"id": video.id}, "prompt": "again"}))
    extended = refusal(
        post(slow_client, "/videos/extensions", {"video": {"id": video.id}, "prompt": "again", "seconds": "4"})
    )

    message = f"Video '{video.id}' is queued; only completed or failed videos can be deleted."
    assert deleted == (400, error(message, "video_id", "invalid_video_status"))
    for (status, body), verb in ((remixed, "remixed"), (edited, "edited"), (extended, "extended")):
        message = f"Video '{video.id}' is queued; only completed videos can be {verb}."
        assert (status, body) == (400, error(message, "video", "invalid_video_status"))


def test_edit_and_extension_field_rules(openai_client: openai.OpenAI) -> None:
    missing_video = refusal(post(openai_client, "/videos/edits", {"prompt": "x"}))
    missing_id = refusal(post(openai_client, "/videos/edits", {"prompt": "x", "video": {}}))
    missing_seconds = refusal(post(openai_client, "/videos/extensions", {"prompt": "x", "video": {"id": "video_1"}}))
    remix_extra = refusal(post(openai_client, "/videos/video_1/remix", {"prompt": "x", "seconds": "4"}))

    assert missing_video == (400, error("Missing required parameter: 'video'.", "video", "missing_required_parameter"))
    assert missing_id == (
        400,
        error("Missing required parameter: 'video.id'.", "video.id", "missing_required_parameter"),
    )
    assert missing_seconds == (
        400,
        error("Missing required parameter: 'seconds'.", "seconds", "missing_required_parameter"),
    )
    assert remix_extra == (400, error("Unknown parameter: 'seconds'.", "seconds", "unknown_parameter"))


# -- extensions: the catalog's limits ---------------------------------------------------------------------------


def wait_completed(client: openai.OpenAI, video_id: str) -> None:
    deadline = time.monotonic() + 30
    while client.videos.retrieve(video_id).status != "completed":
        assert time.monotonic() < deadline, f"{video_id} did not complete"
        time.sleep(0.02)


def test_a_model_without_extensions_refuses_them(servers: dict[str, SandboxServer]) -> None:
    client = client_for(servers["apiyi"])
    video = client.videos.create(prompt="x", model="sora-2", seconds="4")
    wait_completed(client, video.id)

    status, body = refusal(
        post(client, "/videos/extensions", {"video": {"id": video.id}, "prompt": "x", "seconds": "4"})
    )

    assert (status, body) == (
        400,
        error("Video extensions are not supported for model 'sora-2'.", "video", "unsupported_model"),
    )


def test_extension_steps_step_length_and_total_come_from_the_catalog() -> None:
    base = load_builtin("openai").models[0]
    small = base.model_copy(
        update={"extension": ExtensionLimits(max_step_seconds=8, max_steps=2, max_total_seconds=16)}
    )
    with SandboxServer(SandboxConfig(Catalog(profile="small", models=(small,)), time_scale=0.01, fps=2)) as server:
        client = client_for(server)
        first = client.videos.create(prompt="start", seconds="4", size="1280x720")
        wait_completed(client, first.id)

        def extend(video_id: str, seconds: object) -> Callable[[], object]:
            return post(client, "/videos/extensions", {"video": {"id": video_id}, "prompt": "more", "seconds": seconds})

        bad_step = refusal(extend(first.id, "12"))
        integer = refusal(extend(first.id, 8))
        second = client.post(
            "/videos/extensions", body={"video": {"id": first.id}, "prompt": "more", "seconds": "8"}, cast_to=Video
        )
        wait_completed(client, second.id)
        too_long = refusal(extend(second.id, "8"))
        third = client.post(
            "/videos/extensions", body={"video": {"id": second.id}, "prompt": "more", "seconds": "4"}, cast_to=Video
        )
        wait_completed(client, third.id)
        too_many = refusal(extend(third.id, "4"))

    assert bad_step == (
        400,
        error("Invalid value: '12'. Supported values are: '4' and '8'.", "seconds", "invalid_value"),
    )
    assert integer == (
        400,
        error(
            "Invalid type for 'seconds': expected one of '4' or '8', but got an integer instead.",
            "seconds",
            "invalid_type",
        ),
    )
    assert (second.seconds, third.seconds) == ("12", "16")
    assert too_long == (
        400,
        error(
            "Invalid 'seconds': the extended video would be 20 seconds long; "
            "videos can be extended up to 16 seconds in total.",
            "seconds",
            "invalid_value",
        ),
    )
    assert too_many == (
        400,
        error(f"Video '{third.id}' has already been extended 2 times, the maximum.", "video", "invalid_value"),
    )


def test_openai_extension_steps_match_the_sdk_documentation(openai_client: openai.OpenAI) -> None:
    video = openai_client.videos.create(prompt="x", seconds="4", size="1280x720")
    wait_completed(openai_client, video.id)

    status, body = refusal(
        post(openai_client, "/videos/extensions", {"video": {"id": video.id}, "prompt": "x", "seconds": "24"})
    )

    assert (status, body) == (
        400,
        error("Invalid value: '24'. Supported values are: '4', '8', '12', '16', and '20'.", "seconds", "invalid_value"),
    )


# -- list, content variant, bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "status", "expected"),
    [
        (
            {"limit": 101},
            400,
            error(
                "Invalid 'limit': integer above maximum value. Expected a value <= 100, but got 101 instead.",
                "limit",
                "integer_above_max_value",
            ),
        ),
        (
            {"limit": -1},
            400,
            error(
                "Invalid 'limit': integer below minimum value. Expected a value >= 0, but got -1 instead.",
                "limit",
                "integer_below_min_value",
            ),
        ),
        (
            {"limit": "ten"},
            400,
            error("Invalid type for 'limit': expected an integer, but got a string instead.", "limit", "invalid_type"),
        ),
        (
            {"order": "newest"},
            400,
            error("Invalid value: 'newest'. Supported values are: 'asc' and 'desc'.", "order", "invalid_value"),
        ),
        ({"after": "video_gone"}, 404, error("No video found with id 'video_gone'.", "after")),
    ],
    ids=["limit-high", "limit-low", "limit-type", "order", "after"],
)
def test_list_query_rules(openai_client: openai.OpenAI, query: Body, status: int, expected: Body) -> None:
    assert refusal(lambda: openai_client.get("/videos", options={"params": query}, cast_to=object)) == (
        status,
        expected,
    )


def test_unknown_content_variant(openai_client: openai.OpenAI) -> None:
    status, body = refusal(lambda: openai_client.videos.download_content("video_x", variant="poster"))  # type: ignore[arg-type]

    assert (status, body) == (
        400,
        error(
            "Invalid value: 'poster'. Supported values are: 'video', 'thumbnail', and 'spritesheet'.",
            "variant",
            "invalid_value",
        ),
    )


def test_malformed_json_and_wrong_content_type(servers: dict[str, SandboxServer]) -> None:
    url = f"{servers['openai'].base_url}/videos"
    headers = {"Authorization": "Bearer k"}

    broken = httpx2.post(url, headers={**headers, "Content-Type": "application/json"}, content=b'{"prompt": ')
    text = httpx2.post(url, headers={**headers, "Content-Type": "text/plain"}, content=b"prompt=x")
    array = httpx2.post(url, headers=headers, json=["prompt"])

    assert broken.status_code == 400
    assert broken.json()["error"]["message"].startswith("We could not parse the JSON body of your request.")
    assert text.status_code == 400
    assert text.json() == {
        "error": error("Invalid Content-Type header (text/plain), expected multipart/form-data or application/json.")
    }
    assert array.json() == {
        "error": error("Invalid type for 'body': expected an object, but got an array instead.", "body", "invalid_type")
    }
