"""Faults on demand: 5xx, 429 with Retry-After, lost answers after a create, latency, slow and cut downloads."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx2
import openai
import pytest

from sora_mcp.catalog import load_builtin
from sora_mcp.sandbox import Faults, SandboxConfig, SandboxServer

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")

SERVER_ERROR = {
    "message": "The server had an error while processing your request. Sorry about that!",
    "type": "server_error",
    "param": None,
    "code": None,
}


@pytest.fixture(scope="module")
def shared_server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(load_builtin("openai"), time_scale=0.02, fps=2)) as running:
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


def finished(client: openai.OpenAI, video_id: str) -> str:
    deadline = time.monotonic() + 30
    while (status := client.videos.retrieve(video_id).status) not in ("completed", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return status


def test_fail_next_requests_only_on_the_targeted_route(server: SandboxServer, client: openai.OpenAI) -> None:
    video = client.videos.create(prompt="x")
    server.faults.routes = frozenset({"retrieve"})
    server.faults.fail_next_requests = 2

    outcomes: list[object] = []
    for _ in range(2):
        with pytest.raises(openai.InternalServerError) as caught:
            client.videos.retrieve(video.id)
        outcomes.append((caught.value.status_code, caught.value.body))
    listed = client.videos.list()
    recovered = client.videos.retrieve(video.id)

    assert outcomes == [(500, SERVER_ERROR), (500, SERVER_ERROR)]
    assert [v.id for v in listed.data] == [video.id]
    assert recovered.id == video.id
    assert server.state.requests == {"create": 1, "retrieve": 3, "list": 1}


def test_error_status_is_configurable(server: SandboxServer, client: openai.OpenAI) -> None:
    server.faults.error_status = 503
    server.faults.fail_next_requests = 1

    with pytest.raises(openai.InternalServerError) as caught:
        client.videos.list()

    assert caught.value.status_code == 503 and caught.value.body == SERVER_ERROR


def test_error_rate_is_seeded_and_deterministic() -> None:
    def pattern() -> list[int]:
        faults = Faults(error_rate_5xx=0.5, seed=7)
        with SandboxServer(SandboxConfig(load_builtin("openai"), faults=faults)) as server, httpx2.Client() as http:
            return [
                http.get(f"{server.base_url}/videos", headers={"Authorization": "Bearer k"}).status_code
                for _ in range(24)
            ]

    first, second = pattern(), pattern()

    assert first == second
    assert set(first) == {200, 500}
    assert 4 <= first.count(500) <= 20


def test_rate_limit_answers_429_with_retry_after(server: SandboxServer, client: openai.OpenAI) -> None:
    server.faults.rate_limit_next = 2
    server.faults.retry_after_seconds = 2

    refusals = []
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as caught:
            client.videos.list()
        refusals.append(caught.value)
    after = client.videos.list()

    for refusal in refusals:
        assert refusal.status_code == 429
        assert refusal.response.headers["retry-after"] == "2"
        assert refusal.response.headers["retry-after-ms"] == "2000"
        assert refusal.body == {
            "message": "Rate limit reached for requests. Please try again in 2s.",
            "type": "rate_limit_error",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    assert after.data == []


def test_the_sdk_honours_retry_after_and_succeeds(server: SandboxServer) -> None:
    server.faults.rate_limit_next = 1
    server.faults.retry_after_seconds = 0.3
    patient = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=1)

    started = time.monotonic()
    video = patient.videos.create(prompt="after one 429")
    waited = time.monotonic() - started

    assert video.status == "queued"
    assert waited >= 0.3
    assert server.state.requests["create"] == 2
    assert len(server.state.jobs) == 1


def test_dropped_answer_after_create_leaves_exactly_one_job(server: SandboxServer, client: openai.OpenAI) -> None:
    server.faults.drop_next_creates = 1

    with pytest.raises(openai.APIConnectionError):
        client.videos.create(prompt="the answer is lost", seconds="8")

    state = server.state
    assert len(state.jobs) == 1
    assert (state.jobs[0].prompt, state.jobs[0].billed_seconds) == ("the answer is lost", 8)
    assert state.billed_seconds == 8
    job_id = state.jobs[0].id
    assert [v.id for v in client.videos.list().data] == [job_id]  # the job exists; the client never heard of it
    assert finished(client, job_id) == "completed"


def test_a_retrying_client_creates_and_pays_twice(server: SandboxServer) -> None:
    """Why idempotency matters: the SDK retries a POST whose answer was lost, with no idempotency key."""
    server.faults.drop_next_creates = 1
    retrying = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=1)

    video = retrying.videos.create(prompt="charged twice", seconds="4")

    jobs = server.state.jobs
    assert [j.prompt for j in jobs] == ["charged twice", "charged twice"]
    assert video.id == jobs[1].id
    assert server.state.billed_seconds == 8


def test_drop_applies_to_every_job_creating_route(server: SandboxServer, client: openai.OpenAI) -> None:
    source = client.videos.create(prompt="source")
    assert finished(client, source.id) == "completed"
    server.faults.drop_next_creates = 1

    with pytest.raises(openai.APIConnectionError):
        client.videos.remix(source.id, prompt="remix lost")

    assert [j.kind for j in server.state.jobs] == ["create", "remix"]
    assert client.videos.retrieve(source.id).id == source.id  # reads are not dropped
    assert server.faults.drop_next_creates == 0


def test_latency_is_added_only_where_targeted(server: SandboxServer, client: openai.OpenAI) -> None:
    video = client.videos.create(prompt="x")
    server.faults.latency_seconds = 0.4
    server.faults.routes = frozenset({"list"})

    started = time.monotonic()
    client.videos.list()
    slow = time.monotonic() - started
    started = time.monotonic()
    client.videos.retrieve(video.id)
    fast = time.monotonic() - started

    assert slow >= 0.4
    assert fast < 0.4


def completed_video(client: openai.OpenAI) -> tuple[str, bytes]:
    video = client.videos.create(prompt="download", size="1280x720")
    assert finished(client, video.id) == "completed"
    return video.id, client.videos.download_content(video.id).content


def test_slow_downloads_are_throttled_but_complete(server: SandboxServer, client: openai.OpenAI) -> None:
    video_id, expected = completed_video(client)
    server.faults.download_bytes_per_second = len(expected) / 0.5

    started = time.monotonic()
    content = client.videos.download_content(video_id).content
    elapsed = time.monotonic() - started

    assert content == expected
    assert elapsed >= 0.4


def test_truncated_downloads_announce_the_full_length_then_hang_up(
    server: SandboxServer, client: openai.OpenAI
) -> None:
    video_id, expected = completed_video(client)
    server.faults.truncate_downloads = True

    with pytest.raises(openai.APIConnectionError):
        client.videos.download_content(video_id)
    received = bytearray()
    with (
        httpx2.Client() as http,
        http.stream(
            "GET", f"{server.base_url}/videos/{video_id}/content", headers={"Authorization": "Bearer k"}
        ) as response,
    ):
        announced = int(response.headers["content-length"])
        with pytest.raises(httpx2.RemoteProtocolError):
            for chunk in response.iter_bytes():
                received.extend(chunk)

    assert announced == len(expected)
    assert bytes(received) == expected[: len(expected) // 2]


def test_too_many_running_tasks() -> None:
    slow = SandboxConfig(load_builtin("azure"), job_seconds=60.0, fps=2, faults=Faults(max_running_jobs=2))
    with SandboxServer(slow) as azure:
        azure_client = openai.OpenAI(base_url=azure.base_url, api_key="sk-test", max_retries=0)
        azure_client.videos.create(prompt="one")
        azure_client.videos.create(prompt="two")
        with pytest.raises(openai.RateLimitError) as caught:
            azure_client.videos.create(prompt="three")
        jobs = len(azure.state.jobs)

    assert caught.value.body == {
        "message": "Too many running tasks",
        "type": "rate_limit_error",
        "param": None,
        "code": "too_many_running_tasks",
    }
    assert caught.value.response.headers["retry-after"] == "1"
    assert jobs == 2


def test_faults_validate_routes_and_reset() -> None:
    with pytest.raises(ValueError, match="unknown routes"):
        Faults(routes=frozenset({"upload"}))  # type: ignore[arg-type]
    faults = Faults(latency_seconds=1, rate_limit_next=3, truncate_downloads=True, routes=frozenset({"list"}))

    faults.reset()

    assert faults == Faults()
