"""A hostile or broken provider: the real `openai` client, the real sandbox, and `FaultProxy` lying in between."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from sora_mcp.assets import check_image_asset
from sora_mcp.catalog import load_builtin
from sora_mcp.errors import SoraMcpError
from sora_mcp.jobs.downloads import download_once
from sora_mcp.sandbox import SandboxConfig, SandboxServer
from sora_mcp.videos.provider import (
    RETRY_AFTER_MAX_SECONDS,
    JobSnapshot,
    ProviderError,
    RetryPolicy,
    VideoProvider,
    parse_retry_after,
    safe_video_id,
)
from tests.fault_proxy import Fault, FaultProxy

pytestmark = pytest.mark.anyio

CANARY_KEY = "sk-canary-7d41e9b2c8a05f36e1d9"
"""The only key the sandbox accepts, and what a hostile provider echoes back."""
ORDER: dict[str, Any] = {"model": "sora-2", "prompt": "a lighthouse at dusk", "seconds": "4", "size": "1280x720"}


@pytest.fixture
def provider_sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    """The real provider of these tests: a sandbox on loopback that accepts only the canary key."""
    config = SandboxConfig(
        catalog=load_builtin("apiyi"), api_key=CANARY_KEY, time_scale=0.05, storage_dir=tmp_path / "provider-storage"
    )
    with SandboxServer(config) as server:
        yield server


@pytest.fixture
def proxy(provider_sandbox: SandboxServer) -> Iterator[FaultProxy]:
    with FaultProxy(provider_sandbox.base_url) as running:
        yield running


class Sleeps:
    """A real sleep that remembers how long it was asked to sleep."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        await anyio.sleep(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def provider(proxy: FaultProxy, sleeps: Sleeps) -> AsyncIterator[VideoProvider]:
    policy = RetryPolicy(attempts=4, base_seconds=0.02, cap_seconds=0.2, sleep=sleeps)
    client = VideoProvider.connect(base_url=proxy.base_url, api_key=CANARY_KEY, retry=policy)
    try:
        yield client
    finally:
        await client.close()


async def created(provider: VideoProvider) -> JobSnapshot:
    return await provider.create(**ORDER)


async def finished(provider: VideoProvider, video_id: str) -> JobSnapshot:
    with anyio.fail_after(30):
        while (snapshot := await provider.retrieve(video_id)).status not in ("completed", "failed"):
            await anyio.sleep(0.05)
    return snapshot


def usable_prefix(call: str) -> str:
    return f"The provider's answer to {call} was not a usable video job: "


# -- malformed answers -------------------------------------------------------------------------------------


MALFORMED = [
    pytest.param(Fault(body="{not json"), "the body is not JSON (it starts with '{not json')", id="not-json"),
    pytest.param(
        Fault(body="<html><body>502 Bad Gateway</body></html>", content_type="text/html"),
        "the body is not JSON (it starts with '<html><body>502 Bad Gateway</body></html'…)",
        id="html",
    ),
    pytest.param(Fault(body=""), "the body is empty", id="empty"),
    pytest.param(Fault(json={"id": 12345, "status": None}), "'id' is a number, not a string", id="wrong-types"),
    pytest.param(Fault(patch={"status": None}), "'status' is null, not a string", id="status-null"),
    pytest.param(Fault(json=[1, 2]), "expected a JSON object, got an array", id="array"),
    pytest.param(Fault(patch={"status": "weird"}), "unknown status 'weird'", id="unknown-status"),
]


@pytest.mark.parametrize(("fault", "why"), MALFORMED)
async def test_a_malformed_retrieve_answer_is_reported_not_raised(
    fault: Fault, why: str, provider: VideoProvider, proxy: FaultProxy
) -> None:
    job = await created(provider)
    fault.route = "retrieve"
    proxy.add(fault)

    with pytest.raises(ProviderError) as caught:
        await provider.retrieve(job.id)

    error = caught.value
    assert str(error) == usable_prefix("retrieve") + why + "."
    assert (error.code, error.error.code, error.ambiguous, error.transient) == ("unusable_answer",) * 2 + (False, False)
    assert isinstance(error, SoraMcpError) and error.stage == "provider"
    assert proxy.count("retrieve") == 1  # not retried: the same garbage would come back
    fault.route = "nothing"  # the provider recovers: the job is intact
    assert (await provider.retrieve(job.id)).id == job.id


@pytest.mark.parametrize(("fault", "why"), MALFORMED)
async def test_a_malformed_create_answer_is_ambiguous(
    fault: Fault, why: str, provider: VideoProvider, proxy: FaultProxy, provider_sandbox: SandboxServer
) -> None:
    fault.route = "create"
    proxy.add(fault)

    with pytest.raises(ProviderError) as caught:
        await created(provider)

    error = caught.value
    assert str(error) == usable_prefix("create") + why + ". The job may or may not have been created."
    assert (error.code, error.ambiguous) == ("unusable_answer", True)
    assert proxy.forwarded("create") == 1
    assert len(provider_sandbox.state.jobs) == 1  # the provider did accept it: reconcile, do not re-create


async def test_a_list_that_is_not_a_list_is_unusable(provider: VideoProvider, proxy: FaultProxy) -> None:
    proxy.add(Fault(route="list", json={"object": "list", "data": "nope"}))

    with pytest.raises(ProviderError) as caught:
        await provider.recent()

    assert str(caught.value) == usable_prefix("list") + "expected an object with a 'data' array, got an object."
    assert not caught.value.ambiguous


async def test_wrong_field_types_are_tolerated_and_normalised(provider: VideoProvider, proxy: FaultProxy) -> None:
    job = await created(provider)
    fault = proxy.add(Fault(route="retrieve", patch={"progress": "abc", "created_at": None, "seconds": "8"}))
    before = int(time.time())

    odd = await provider.retrieve(job.id)
    fault.patch = {"progress": 250, "created_at": "yesterday", "model": 7, "size": None, "expires_at": -1}
    high = await provider.retrieve(job.id)
    fault.patch = {"progress": -3.5, "completed_at": float("inf")}
    low = await provider.retrieve(job.id)

    assert (odd.progress, odd.seconds, odd.created_at_known) == (0, 8, False)
    assert before <= odd.created_at <= int(time.time())
    assert (high.progress, high.model, high.size, high.expires_at, high.created_at_known) == (100, "", "", None, False)
    assert (low.progress, low.completed_at, low.created_at, low.created_at_known) == (0, None, job.created_at, True)


@pytest.mark.parametrize(
    ("status", "expected", "error_code"),
    [
        ("pending", "queued", None),
        ("processing", "in_progress", None),
        ("running", "in_progress", None),
        ("succeeded", "completed", None),
        ("cancelled", "failed", "cancelled"),
        ("canceled", "failed", "cancelled"),
        ("expired", "expired", None),
        ("IN_PROGRESS", "in_progress", None),
    ],
)
async def test_provider_statuses_map_onto_the_ledgers(
    status: str, expected: str, error_code: str | None, provider: VideoProvider, proxy: FaultProxy
) -> None:
    job = await created(provider)
    proxy.add(Fault(route="retrieve", patch={"status": status}))

    snapshot = await provider.retrieve(job.id)

    assert (snapshot.status, snapshot.error_code) == (expected, error_code)
    if error_code == "cancelled":
        assert snapshot.error_message == "The provider cancelled the job."


async def test_an_unknown_status_in_a_list_skips_that_entry(
    provider: VideoProvider, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    first = await created(provider)
    second = await created(provider)
    proxy.add(Fault(route="list", body=None, patch=None))  # untouched: both
    assert [j.id for j in await provider.recent()] == [second.id, first.id]
    proxy.clear()
    proxy.add(Fault(route="list", patch={"status": "weird"}))

    assert await provider.recent() == []
    assert caplog.text.count("unknown status 'weird'") == 2


# -- ids are data ------------------------------------------------------------------------------------------

UNSAFE_IDS = [
    pytest.param("../../EVIL_rel", "'../../EVIL_rel' contains '..'", id="relative"),
    pytest.param("/abs/dir/pwn", "'/abs/dir/pwn' has characters other than", id="absolute"),
    pytest.param("video..x", "'video..x' contains '..'", id="dotdot"),
    pytest.param("vid\x00eo", "'vid\\x00eo' has characters other than", id="nul"),
    pytest.param("x" * 10240, "it is 10240 characters long (at most 512)", id="10KB"),
    pytest.param("vidéo_1", "'vid\\xe9o_1' has characters other than", id="unicode"),
    pytest.param("", "it is empty", id="empty"),
    pytest.param(".hidden", "'.hidden' has characters other than", id="leading-dot"),
]


@pytest.mark.parametrize(("bad_id", "why"), UNSAFE_IDS)
def test_safe_video_id_refuses_anything_path_like(bad_id: str, why: str) -> None:
    with pytest.raises(ProviderError) as caught:
        safe_video_id(bad_id)
    assert caught.value.code == "unsafe_id" and not caught.value.ambiguous
    assert why in str(caught.value)


@pytest.mark.parametrize("good", ["video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5", "task:1.2-3", "A" * 200])
def test_safe_video_id_accepts_real_ids(good: str) -> None:
    assert safe_video_id(good) == good


def test_safe_video_id_refuses_non_strings() -> None:
    for value in (12345, None, b"video_1", ["video_1"]):
        with pytest.raises(ProviderError, match="expected a string"):
            safe_video_id(value)


@pytest.mark.parametrize(("bad_id", "why"), UNSAFE_IDS)
async def test_an_unsafe_id_fails_the_create_clearly(
    bad_id: str, why: str, provider: VideoProvider, proxy: FaultProxy, tmp_path: Path
) -> None:
    proxy.add(Fault(route="create", job_id=bad_id))

    with pytest.raises(ProviderError) as caught:
        await created(provider)

    error = caught.value
    assert str(error).startswith(usable_prefix("create") + "the job id is not safe to use: ")
    assert why in str(error) and len(str(error)) < 400
    assert (error.code, error.ambiguous) == ("unsafe_id", False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["provider-storage"]  # nothing was written anywhere


@pytest.mark.parametrize(("bad_id", "why"), UNSAFE_IDS[:4])
async def test_unsafe_ids_in_retrieve_and_list(
    bad_id: str, why: str, provider: VideoProvider, proxy: FaultProxy
) -> None:
    job = await created(provider)
    proxy.add(Fault(route="retrieve", job_id=bad_id))
    proxy.add(Fault(route="list", job_id=bad_id))

    with pytest.raises(ProviderError) as caught:
        await provider.retrieve(job.id)
    listed = await provider.recent()

    assert caught.value.code == "unsafe_id" and why in str(caught.value)
    assert listed == []  # the entry is skipped, nothing else breaks


async def test_a_parent_id_is_checked_too(provider: VideoProvider, proxy: FaultProxy) -> None:
    job = await created(provider)
    proxy.add(Fault(route="retrieve", patch={"remixed_from_video_id": "../../etc/passwd"}))

    with pytest.raises(ProviderError) as caught:
        await provider.retrieve(job.id)

    assert caught.value.code == "unsafe_id"
    assert "'remixed_from_video_id' is not safe to use" in str(caught.value)


async def test_a_retrieve_answer_about_another_job_is_refused(provider: VideoProvider, proxy: FaultProxy) -> None:
    job = await created(provider)
    proxy.add(Fault(route="retrieve", job_id="video_somebody_else"))

    with pytest.raises(ProviderError) as caught:
        await provider.retrieve(job.id)

    assert caught.value.code == "unusable_answer"
    assert f"it describes job 'video_somebody_else', not '{job.id}'" in str(caught.value)


async def test_ids_we_send_are_checked_before_any_request(provider: VideoProvider, proxy: FaultProxy) -> None:
    with pytest.raises(ProviderError, match=r"contains '\.\.'"):
        await provider.retrieve("../../v1/videos")
    with pytest.raises(ProviderError, match=r"unsafe|not safe"):
        await provider.remix("/etc/passwd", "x")
    assert proxy.count() == 0


# -- secrets -----------------------------------------------------------------------------------------------


async def test_the_proxy_really_echoes_the_key(provider: VideoProvider, proxy: FaultProxy) -> None:
    """Guard for the redaction test below: the key does come back from this provider, three ways."""
    job = await created(provider)
    proxy.add(Fault(route="retrieve", echo_auth=frozenset({"body", "error", "header"})))
    async with httpx2.AsyncClient() as http:
        raw = await http.get(f"{proxy.base_url}/videos/{job.id}", headers={"Authorization": f"Bearer {CANARY_KEY}"})
    assert CANARY_KEY in raw.json()["error"]["message"]
    assert CANARY_KEY in raw.json()["message"]
    assert CANARY_KEY in raw.headers["x-echo"]


async def test_an_echoed_key_appears_in_no_error_and_no_log(
    provider: VideoProvider, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = frozenset({"body", "error", "header"})
    job = await created(provider)
    proxy.add(Fault(route="retrieve", echo_auth=echo, nth=1))
    proxy.add(Fault(route="retrieve", echo_auth=echo, status=400, nth=2))
    proxy.add(Fault(route="create", echo_auth=echo, status=503, forward=False))
    proxy.add(Fault(route="list", echo_auth=echo, job_id="{key}"))
    proxy.add(
        Fault(route="delete", status=401, json={"error": {"message": "bad key {authorization}", "code": "{key}"}})
    )
    seen: list[str] = []

    failed = await provider.retrieve(job.id)  # a job whose error.message carries the key
    seen += [repr(failed)]
    for call in (
        lambda: provider.retrieve(job.id),
        lambda: created(provider),
        lambda: provider.delete(job.id),
    ):
        with pytest.raises(ProviderError) as caught:
            await call()
        seen += [str(caught.value), repr(caught.value.error), caught.value.problem().model_dump_json()]
        seen += [json.dumps(caught.value.body)]
    seen += [repr(await provider.recent())]  # the key as a job id: skipped, and logged (redacted)
    logging.getLogger("sora_mcp.test").debug("the key is %s, header Bearer %s", CANARY_KEY, CANARY_KEY)

    assert failed.status == "failed" and failed.error_code == "echo"
    assert failed.error_message == "upstream rejected Bearer [redacted] for this job (you sent Bearer [redacted])"
    assert "(you sent Bearer [redacted])" in seen[1]
    assert any("bad key Bearer [redacted]" in s for s in seen)
    everything = "\n".join([*seen, caplog.text, *(r.getMessage() for r in caplog.records)])
    assert "skipping entry 0 of the provider's job list" in caplog.text
    assert "the key is [redacted]" in caplog.text
    assert CANARY_KEY not in everything
    assert CANARY_KEY[3:] not in everything


async def test_problem_carries_message_code_param_and_body(provider: VideoProvider) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.create(**{**ORDER, "size": "999x999"})

    problem = caught.value.problem()
    assert (problem.stage, problem.code, problem.param) == ("provider", "invalid_value", "size")
    assert problem.message.startswith("Invalid value: '999x999'.")
    assert problem.provider_error is not None and problem.provider_error["error"]["param"] == "size"
    assert (caught.value.status, caught.value.ambiguous) == (400, False)


async def test_an_enormous_error_message_is_clipped(provider: VideoProvider, proxy: FaultProxy) -> None:
    proxy.add(Fault(route="list", status=400, json={"error": {"message": "x" * 1_000_000, "code": "huge"}}))

    with pytest.raises(ProviderError) as caught:
        await provider.recent()

    assert caught.value.code == "huge" and len(str(caught.value)) <= 2001


# -- lost answers and 5xx ----------------------------------------------------------------------------------


async def test_forwarded_then_lost_create_is_ambiguous_and_exists_once(
    provider: VideoProvider, proxy: FaultProxy, provider_sandbox: SandboxServer
) -> None:
    proxy.add(Fault(route="create", drop=True))

    with pytest.raises(ProviderError) as caught:
        await created(provider)

    assert (caught.value.code, caught.value.ambiguous, caught.value.status) == ("connection_error", True, None)
    assert (proxy.count("create"), proxy.forwarded("create")) == (1, 1)
    assert [j.prompt for j in provider_sandbox.state.jobs] == [ORDER["prompt"]]


@pytest.mark.parametrize(("forward", "jobs"), [(True, 1), (False, 0)])
async def test_a_5xx_create_is_ambiguous_whether_or_not_it_arrived(
    forward: bool, jobs: int, provider: VideoProvider, proxy: FaultProxy, provider_sandbox: SandboxServer
) -> None:
    proxy.add(Fault(route="create", status=500, forward=forward))

    with pytest.raises(ProviderError) as caught:
        await created(provider)

    assert (caught.value.status, caught.value.ambiguous) == (500, True)
    assert proxy.count("create") == 1  # a creating call is never retried here
    assert len(provider_sandbox.state.jobs) == jobs


async def test_idempotent_calls_retry_through_5xx_and_dropped_answers(
    provider: VideoProvider, proxy: FaultProxy
) -> None:
    job = await created(provider)
    proxy.add(Fault(route="retrieve", status=503, nth=1))
    proxy.add(Fault(route="retrieve", drop=True, nth=2))
    proxy.add(Fault(route="retrieve", status=502, forward=False, nth=3))

    snapshot = await provider.retrieve(job.id)

    assert snapshot.id == job.id
    assert (proxy.count("retrieve"), proxy.forwarded("retrieve")) == (4, 3)


# -- Retry-After and deadlines ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("inf", RETRY_AFTER_MAX_SECONDS),
        ("1e9", RETRY_AFTER_MAX_SECONDS),
        ("100000", RETRY_AFTER_MAX_SECONDS),
        ("-5", 0.0),
        ("garbage", None),
        ("nan", None),
        ("", None),
        ("2.5", 2.5),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_retry_after_is_parsed_defensively(value: str, parsed: float | None) -> None:
    assert parse_retry_after({"retry-after": value}) == parsed


def test_retry_after_ms_wins_and_is_capped_too() -> None:
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "inf"}) == RETRY_AFTER_MAX_SECONDS
    assert parse_retry_after({"retry-after-ms": "soon", "retry-after": "3"}) == 3.0
    assert parse_retry_after(None) is None


@pytest.mark.parametrize("value", ["inf", "1e9", "-5", "garbage", "100000", "nan"])
async def test_a_hostile_retry_after_never_stalls_a_retry(
    value: str, provider: VideoProvider, proxy: FaultProxy, sleeps: Sleeps
) -> None:
    job = await created(provider)
    proxy.add(Fault(route="retrieve", status=429, forward=False, retry_after=value, times=2))

    started = time.monotonic()
    snapshot = await provider.retrieve(job.id)
    elapsed = time.monotonic() - started

    assert snapshot.id == job.id
    assert len(sleeps.asked) == 2 and all(0 <= s <= 0.2 for s in sleeps.asked)  # the policy's cap
    assert elapsed < 2.0


async def test_retry_after_never_outlasts_the_callers_deadline(
    proxy: FaultProxy, provider_sandbox: SandboxServer, sleeps: Sleeps
) -> None:
    patient = VideoProvider.connect(
        base_url=proxy.base_url, api_key=CANARY_KEY, retry=RetryPolicy(cap_seconds=8.0, sleep=sleeps)
    )
    job = await created(patient)
    proxy.add(Fault(route="retrieve", status=503, forward=False, retry_after="100000"))

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        await patient.retrieve(job.id, timeout=1.0)
    elapsed = time.monotonic() - started
    await patient.close()

    assert caught.value.status == 503 and caught.value.transient
    assert elapsed < 1.5
    assert all(s <= 1.0 for s in sleeps.asked)


async def test_a_slow_retrieve_returns_within_the_timeout(provider: VideoProvider, proxy: FaultProxy) -> None:
    job = await created(provider)
    proxy.add(Fault(route="retrieve", delay=8.0))

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        await provider.retrieve(job.id, timeout=1.0)
    elapsed = time.monotonic() - started

    assert str(caught.value) == "The provider did not answer within 1 s."
    assert (caught.value.code, caught.value.transient, caught.value.ambiguous) == ("timeout", True, False)
    assert 0.9 <= elapsed < 2.5
    assert proxy.count("retrieve") == 1  # no retry once the time is up


async def test_a_slow_create_is_ambiguous_within_the_timeout(provider: VideoProvider, proxy: FaultProxy) -> None:
    proxy.add(Fault(route="create", delay=8.0))

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        await provider.create(**ORDER, timeout=1.0)
    elapsed = time.monotonic() - started

    assert str(caught.value) == "The provider did not answer within 1 s. The job may or may not have been created."
    assert (caught.value.code, caught.value.ambiguous) == ("timeout", True)
    assert 0.9 <= elapsed < 2.5


async def test_retries_stop_at_the_deadline(proxy: FaultProxy, provider_sandbox: SandboxServer, sleeps: Sleeps) -> None:
    slowish = VideoProvider.connect(
        base_url=proxy.base_url,
        api_key=CANARY_KEY,
        retry=RetryPolicy(attempts=100, base_seconds=0.1, cap_seconds=0.2, sleep=sleeps),
    )
    proxy.add(Fault(route="list", status=503, forward=False, delay=0.1))

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        await slowish.recent(timeout=1.0)
    elapsed = time.monotonic() - started
    await slowish.close()

    assert caught.value.transient
    assert elapsed < 1.5
    assert 3 <= proxy.count("list") < 100


async def test_a_timeout_leaves_normal_calls_alone(provider: VideoProvider) -> None:
    job = await provider.create(**ORDER, timeout=10.0)
    assert (await provider.retrieve(job.id, timeout=10.0)).id == job.id
    assert [j.id for j in await provider.recent(timeout=10.0)] == [job.id]


# -- assets ------------------------------------------------------------------------------------------------


async def fetch_to(provider: VideoProvider, video_id: str, variant: Any, dest: Path) -> Path:
    async with provider.download(video_id, variant, timeout=10.0) as stream:
        from contextlib import asynccontextmanager

        from sora_mcp.jobs.downloads import Body

        @asynccontextmanager
        async def opened() -> AsyncIterator[Body]:
            yield Body(stream.chunks, stream.content_length)

        return (await download_once(dest, opened, expected_size=stream.content_length, within=dest.parent)).path


async def test_random_bytes_as_a_thumbnail_are_caught_and_the_video_is_fine(
    provider: VideoProvider, proxy: FaultProxy, tmp_path: Path
) -> None:
    job = await created(provider)
    assert (await finished(provider, job.id)).status == "completed"
    out = tmp_path / "out"
    good = await fetch_to(provider, job.id, "thumbnail", out / "good.webp")
    proxy.add(Fault(path=r"/videos/[^/]+/content", random_bytes=5000))

    bad = await fetch_to(provider, job.id, "thumbnail", out / "bad.webp")
    sprites = await fetch_to(provider, job.id, "spritesheet", out / "bad.jpg")
    proxy.clear()
    video = await fetch_to(provider, job.id, "video", out / "video.mp4")

    assert check_image_asset(good, max_bytes=20 << 20, max_pixels=50_000_000) is None
    assert bad.stat().st_size == 5000
    assert check_image_asset(bad, max_bytes=20 << 20, max_pixels=50_000_000) == "not an image"
    assert check_image_asset(sprites, max_bytes=20 << 20, max_pixels=50_000_000) == "not an image"
    assert check_image_asset(good, max_bytes=100, max_pixels=50_000_000) == "over 100 bytes"
    assert check_image_asset(good, max_bytes=20 << 20, max_pixels=100).startswith("over 100 pixels (")  # type: ignore[union-attr]
    assert check_image_asset(out / "missing.png", max_bytes=1, max_pixels=1) == "missing"
    assert video.read_bytes()[4:8] == b"ftyp"


async def test_check_image_asset_limits_and_truncation(tmp_path: Path) -> None:
    from PIL import Image

    png = tmp_path / "big.png"
    Image.new("RGB", (300, 200), (10, 20, 30)).save(png)
    data = png.read_bytes()
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(data[: len(data) // 2])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    tiff = tmp_path / "x.tiff"
    Image.new("RGB", (4, 4)).save(tiff)

    assert check_image_asset(png, max_bytes=20 << 20, max_pixels=60_000) is None
    assert check_image_asset(png, max_bytes=20 << 20, max_pixels=59_999) == "over 59999 pixels (300x200)"
    assert check_image_asset(png, max_bytes=10, max_pixels=60_000) == "over 10 bytes"
    assert check_image_asset(truncated, max_bytes=20 << 20, max_pixels=60_000) == "truncated or corrupt"
    assert check_image_asset(empty, max_bytes=20 << 20, max_pixels=60_000) == "empty"
    assert check_image_asset(tiff, max_bytes=20 << 20, max_pixels=60_000) == "not a supported image (TIFF)"


def test_check_image_asset_names_megabytes(tmp_path: Path) -> None:
    big = tmp_path / "big.webp"
    big.write_bytes(b"\0" * (2 * 1024 * 1024 + 1))
    assert check_image_asset(big, max_bytes=2 * 1024 * 1024, max_pixels=1) == "over 2 MB"
    assert check_image_asset(big, max_bytes=2_000_000, max_pixels=1) == "over 2 MB"
    assert check_image_asset(big, max_bytes=1_500_000, max_pixels=1) == "over 1.5 MB"


@pytest.mark.parametrize(("hint", "expected"), [("garbage", None), ("-5", None), ("inf", None), ("1e300", 3_600_000.0)])
async def test_a_hostile_poll_hint_is_refused_or_capped(
    hint: str, expected: float | None, provider: VideoProvider, proxy: FaultProxy
) -> None:
    job = await created(provider)
    proxy.add(Fault(route="retrieve", headers={"openai-poll-after-ms": hint}))

    assert (await provider.retrieve(job.id)).poll_after_ms == expected


async def test_a_rate_limit_without_forwarding_says_so(provider: VideoProvider, proxy: FaultProxy) -> None:
    proxy.add(Fault(route="create", status=429, forward=False, retry_after="garbage"))

    with pytest.raises(ProviderError) as caught:
        await created(provider)

    error = caught.value
    assert (error.status, error.code, error.ambiguous, error.retry_after) == (429, "rate_limit_exceeded", False, None)
    assert proxy.forwarded() == 0
