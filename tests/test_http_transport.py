"""Streamable HTTP end to end: a real uvicorn server on loopback, the SDK's HTTP client in both protocol eras."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ImageContent, ListRootsResult, ResourceLink, Root

from sora_mcp.sandbox import SandboxServer
from sora_mcp.server import build_server
from sora_mcp.settings import Settings
from tests.http_support import ERAS, http_server, mcp_client
from tests.videos_support import CANARY_KEY, SORA2_4S, error_of, structured, text_of

pytestmark = pytest.mark.anyio

PROVIDER_ENV = {"SORA_MCP_NO_AUTH": "true"}


def provider_env(sandbox: SandboxServer) -> dict[str, str]:
    return {
        **PROVIDER_ENV,
        "OPENAI_API_KEY": CANARY_KEY,
        "OPENAI_BASE_URL": sandbox.base_url,
        "SORA_MCP_PROFILE": "apiyi",
    }


async def test_healthz(tmp_path: Path) -> None:
    with http_server(tmp_path, PROVIDER_ENV) as running:
        async with httpx.AsyncClient() as http:
            answer = await http.get(running.url + "/healthz")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"


@pytest.mark.parametrize("mode", ERAS)
async def test_tools_resources_and_no_prompts_over_http(tmp_path: Path, mode: str) -> None:
    with http_server(tmp_path, PROVIDER_ENV) as running:
        async with mcp_client(running.mcp_url, mode) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            assert {"create_video", "get_video_status", "validate_params", "list_models"} <= tools
            templates = await client.list_resource_templates()
            assert sorted(t.uri_template for t in templates.resource_templates) == [
                "sora://videos/{video_id}",
                *(f"sora://videos/{{video_id}}/{asset}" for asset in ("content", "spritesheet", "thumbnail")),
            ]
            checked = await client.call_tool("validate_params", {"model": "sora-2", "seconds": 4})
            assert not checked.is_error, text_of(checked)
            capabilities = client.server_capabilities
            assert capabilities.prompts is None and capabilities.tools is not None
            assert client.protocol_version == ("2026-07-28" if mode == "auto" else "2025-11-25")


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_stdio_server_does_not_advertise_prompts(sandbox_settings: Settings, mode: str) -> None:
    async with Client(build_server(sandbox_settings), mode=mode) as client:
        capabilities = client.server_capabilities
        assert capabilities is not None and capabilities.prompts is None
        assert capabilities.tools is not None and capabilities.resources is not None


@pytest.mark.parametrize("mode", ERAS)
async def test_a_video_over_http_with_progress_and_signed_links(
    tmp_path: Path, provider_sandbox: SandboxServer, mode: str
) -> None:
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    with http_server(tmp_path, provider_env(provider_sandbox)) as running:
        async with mcp_client(running.mcp_url, mode) as client:
            created = await client.call_tool(
                "create_video",
                {"prompt": "a red kite over the sea", "video": SORA2_4S, "wait_seconds": 20},
                progress_callback=on_progress,
            )
            assert not created.is_error, text_of(created)
            job = structured(created)
            assert job["status"] == "completed"
            files: dict[str, Any] = job["files"]
            for variant in ("video", "thumbnail", "spritesheet"):
                assert files[variant].startswith(running.url + "/downloads/"), files
            assert str(tmp_path) not in text_of(created)  # no server paths in the text
            links = [b.uri for b in created.content if isinstance(b, ResourceLink)]
            assert str(links[0]) == files["video"]
            assert any(isinstance(b, ImageContent) for b in created.content)  # the thumbnail stays inline
            resource = await client.read_resource(f"sora://videos/{job['video_id']}")
            assert '"video": "' + running.url + "/downloads/" in resource.contents[0].text  # type: ignore[union-attr]
            listed = structured(await client.call_tool("list_videos", {}))
            assert listed["jobs"][0]["files"]["video"].startswith(running.url + "/downloads/")
            fetched = await client.call_tool("download_video", {"video_id": job["video_id"], "variant": "video"})
            again = [str(b.uri) for b in fetched.content if isinstance(b, ResourceLink)]
            assert again[0].startswith(running.url + "/downloads/") and again[0] in text_of(fetched)
            deleted = await client.call_tool("delete_video", {"video_id": job["video_id"]})
            kept = structured(deleted)["kept_files"]
            assert len(kept) == 3 and all(k.startswith(running.url + "/downloads/") for k in kept)
            assert str(tmp_path) not in text_of(deleted)
        async with httpx.AsyncClient() as http:
            video = await http.get(files["video"])
            video_again = await http.get(again[0])
            ranged = await http.get(files["video"], headers={"Range": "bytes=0-99"})
            thumbnail = await http.get(files["thumbnail"])
    on_disk = next((tmp_path / "out").glob("*.mp4")).read_bytes()
    assert video.status_code == 200 and video.content == on_disk and video_again.content == on_disk
    assert video.headers["content-type"] == "video/mp4" and video.headers["accept-ranges"] == "bytes"
    assert ranged.status_code == 206 and ranged.content == on_disk[:100]
    assert ranged.headers["content-range"] == f"bytes 0-99/{len(on_disk)}"
    assert thumbnail.status_code == 200 and thumbnail.content[:4] == b"RIFF"
    assert seen and seen == sorted(set(seen)) and seen[-1] == 100.0  # progress over SSE, as it happened


async def test_replicas_share_nothing_in_memory(tmp_path: Path, provider_sandbox: SandboxServer) -> None:
    """A job created through replica A is finished through replica B; B's link is served by A."""
    env = provider_env(provider_sandbox)
    with http_server(tmp_path, env) as a, http_server(tmp_path, env) as b:
        async with mcp_client(a.mcp_url, "2026-07-28") as client_a:
            created = structured(
                await client_a.call_tool(
                    "create_video", {"prompt": "two replicas", "video": SORA2_4S, "wait_seconds": 0}
                )
            )
        async with mcp_client(b.mcp_url, "legacy") as client_b:
            done = structured(
                await client_b.call_tool("get_video_status", {"video_id": created["video_id"], "wait_seconds": 30})
            )
        assert done["status"] == "completed"
        link = done["files"]["video"].replace(b.url, a.url)
        async with httpx.AsyncClient() as http:
            answer = await http.get(link)
    assert answer.status_code == 200 and answer.content[4:8] == b"ftyp"
    assert provider_sandbox.state.job_ids == (created["video_id"],)


def _serve(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sora_mcp", "serve", "--transport", "http", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--host", "0.0.0.0"), "refusing to serve 0.0.0.0:8000 without auth"),
        (("--host", "192.0.2.7", "--no-auth"), "refusing to serve 192.0.2.7:8000 without auth"),
        ((), "no auth configured"),
        (("--token-file", "/nonexistent/tokens"), "is not a file"),
        (("--oauth-issuer", "https://issuer.example"), "needs SORA_MCP_OAUTH_JWKS_URL"),
        (("--no-auth", "--link-secret", "short"), "SORA_MCP_LINK_SECRET must be at least 32 characters"),
        (("--no-auth", "--public-url", "mcp.example.com"), "is not an http(s) URL"),
    ],
)
def test_unsafe_or_incomplete_binds_are_refused_in_one_line(
    isolated_environment: Path, args: tuple[str, ...], expected: str
) -> None:
    import os

    completed = _serve(*args, env=dict(os.environ))
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], completed.stderr


@pytest.mark.parametrize("mode", ERAS)
async def test_a_remote_client_cannot_read_image_files_on_the_server(tmp_path: Path, mode: str) -> None:
    """Over HTTP a client's roots name its own machine's folders: no file here is readable unless the operator
    set SORA_MCP_ALLOWED_DIRS (images travel as data: URLs)."""
    from tests.interop.support import write_png

    image = write_png(tmp_path / "secret.png", 64, 36)
    with http_server(tmp_path, {**PROVIDER_ENV, "SORA_MCP_ALLOWED_DIRS": ""}) as running:
        async with mcp_client(running.mcp_url, mode) as client:
            refused = await client.call_tool("fit_reference_image", {"image": str(image), "size": "1280x720"})
            created = await client.call_tool(
                "create_video", {"prompt": "p", "video": SORA2_4S, "reference_image": str(image), "wait_seconds": 0}
            )
    for result in (refused, created):
        error = error_of(result)
        assert error["stage"] == "image" and "data: URL" in error["message"], error


class RoundRobin(httpx2.AsyncBaseTransport):
    """A load balancer in the client: each request goes to the next replica in turn."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.sent: list[int] = []
        self.inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = self.ports[len(self.sent) % len(self.ports)]
        self.sent.append(port)
        request.url = request.url.copy_with(port=port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_multi_round_trip_call_spans_replicas(tmp_path: Path, provider_sandbox: SandboxServer) -> None:
    """2026-07-28: create_video asks a roots-capable client for its roots (`input_required`, state sealed by one
    replica); the retry lands on the other replica, which opens the state with the deployment's shared key."""
    asked: list[int] = []

    async def list_roots(context: object) -> ListRootsResult:
        asked.append(1)
        return ListRootsResult(roots=[Root(uri="file:///somewhere/on/the/client")])  # type: ignore[arg-type]

    env = provider_env(provider_sandbox)
    with http_server(tmp_path, env) as a, http_server(tmp_path, env) as b:
        ports = [int(a.url.rsplit(":", 1)[1]), int(b.url.rsplit(":", 1)[1])]
        balancer = RoundRobin(ports)
        async with (
            httpx2.AsyncClient(transport=balancer, timeout=httpx2.Timeout(30, read=120)) as http,
            Client(
                streamable_http_client(a.mcp_url, http_client=http), mode="auto", list_roots_callback=list_roots
            ) as client,
        ):
            assert client.protocol_version == "2026-07-28"
            created = await client.call_tool(
                "create_video", {"prompt": "across replicas", "video": SORA2_4S, "wait_seconds": 0}
            )
    assert not created.is_error, text_of(created)
    assert asked == [1] and set(balancer.sent) == set(ports)
    assert provider_sandbox.state.job_ids == (structured(created)["video_id"],)


async def test_a_replica_serves_a_link_to_a_file_it_does_not_have(
    tmp_path: Path, provider_sandbox: SandboxServer
) -> None:
    """Replicas on separate disks share only the ledger: a link to a file another replica downloaded is served
    after fetching the file from the provider once (replicas need not share SORA_MCP_OUTPUT_DIR)."""
    shared = {**provider_env(provider_sandbox), "SORA_MCP_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}"}
    shared["SORA_MCP_LINK_SECRET"] = "k" * 40
    with (
        http_server(tmp_path / "a", shared) as a,
        http_server(tmp_path / "b", shared) as b,
    ):
        async with mcp_client(a.mcp_url, "2026-07-28") as client_a:
            done = structured(
                await client_a.call_tool(
                    "create_video", {"prompt": "separate disks", "video": SORA2_4S, "wait_seconds": 30}
                )
            )
        assert done["status"] == "completed"
        a_file = next((tmp_path / "a" / "out").glob("*.mp4"))
        on_a = a_file.read_bytes()
        a_file.unlink()  # one machine stands in for two: B's disk does not have what A downloaded
        assert not list((tmp_path / "b" / "out").glob("*.mp4"))
        link = done["files"]["video"].replace(a.url, b.url)
        async with httpx.AsyncClient(timeout=30) as http:
            first = await http.get(link)
            again = await http.get(link, headers={"Range": "bytes=0-99"})
    assert first.status_code == 200 and first.content == on_a
    assert again.status_code == 206 and again.content == on_a[:100]
    assert next((tmp_path / "b" / "out").glob("*.mp4")).read_bytes() == on_a
