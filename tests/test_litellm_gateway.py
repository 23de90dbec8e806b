"""sora-mcp through a real LiteLLM proxy (PyPI `litellm[proxy]`, in its own cached venv) in front of the sandbox.

What LiteLLM does to the OpenAI Videos API (video-dialects.md §2) and what the server must cope with: ids
re-encoded as `video_<base64>` (longer than 200 characters, with '=' and maybe '+' or '/'), `variant` dropped on
content (the thumbnail and spritesheet requests get the MP4, so they are derived from it), `DELETE` answered
405, no job list reaching the upstream, upstream errors nested as JSON text inside `message`. The proxy runs
with `router_settings.num_retries: 0` so one create is one upstream POST.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client

from sora_mcp.catalog import load_builtin
from sora_mcp.sandbox import SandboxConfig, SandboxServer
from sora_mcp.server import build_server
from sora_mcp.settings import Settings
from tests.fault_proxy import Fault, FaultProxy
from tests.interop import support
from tests.videos_support import CANARY_KEY, error_of, structured, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

LITELLM = ["litellm[proxy]==1.108.7"]
PROXY_KEY = "sk-proxy-master-7d1e0c9b4a"
CREATE = {
    "prompt": "a lighthouse at dusk",
    "video": {"model": "sora-2", "seconds": "4", "size": "1280x720"},
    "wait_seconds": 0,
}
UPSTREAM_400 = {
    "error": {
        "message": "Invalid value: '10'. Supported values are: '4', '8', and '12'.",
        "type": "invalid_request_error",
        "param": "seconds",
        "code": "invalid_value",
    }
}
START_TIMEOUT = 120.0
ROUTES = ("create", "retrieve", "content", "remix", "list", "delete")
logger = logging.getLogger(__name__)


def litellm_python() -> Path:
    """The cached venv's python (built on first use with exactly the pin, like the interop clients')."""
    support.PYTHON_CLIENTS.setdefault("litellm", LITELLM)
    return support.python_client("litellm")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def litellm_proxy(upstream_base_url: str, home: Path) -> Iterator[str]:
    """A LiteLLM proxy on 127.0.0.1 with `sora-2` pointing at `upstream_base_url`; yields its base URL (…/v1)."""
    python = litellm_python()
    port = _free_port()
    config = home / "litellm.yaml"
    config.write_text(
        "\n".join(
            [
                "model_list:",
                "  - model_name: sora-2",
                "    litellm_params:",
                "      model: openai/sora-2",
                f"      api_base: {upstream_base_url}",
                f"      api_key: {CANARY_KEY}",
                "    model_info:",
                "      mode: video_generation",
                "general_settings:",
                f"  master_key: {PROXY_KEY}",
                "litellm_settings:",
                "  telemetry: false",
                "router_settings:",
                "  num_retries: 0",
                "",
            ]
        )
    )
    log = (home / "litellm.log").open("w")
    env = support.tool_env(LITELLM_LOCAL_MODEL_COST_MAP="True", NO_PROXY="*", LITELLM_LOG="ERROR")
    process = subprocess.Popen(
        [str(python.with_name("litellm")), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=str(home),
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise AssertionError("litellm exited at start:\n" + (home / "litellm.log").read_text()[-4000:])
            try:
                if httpx2.get(f"{base}/health/liveliness", timeout=2.0).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("litellm did not start:\n" + (home / "litellm.log").read_text()[-4000:])
            time.sleep(0.25)
        yield f"{base}/v1"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        log.close()


@pytest.fixture
def openai_sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    """The upstream: a sandbox with the openai profile (sora-2: 4/8/12 s) that only takes the canary key."""
    config = SandboxConfig(
        catalog=load_builtin("openai"),
        api_key=CANARY_KEY,
        time_scale=0.05,
        storage_dir=tmp_path / "upstream",
    )
    with SandboxServer(config) as server:
        yield server


def _settings(home: Path, base_url: str) -> Settings:
    return Settings.resolve(
        env={
            "OPENAI_API_KEY": PROXY_KEY,
            "OPENAI_BASE_URL": base_url,
            "SORA_MCP_PROFILE": "openai",
            "SORA_MCP_HOME": str(home / "data"),
            "SORA_MCP_OUTPUT_DIR": str(home / "out"),
            "SORA_MCP_ALLOWED_DIRS": str(home),
        },
        user_home=home,
    )


async def test_create_status_download_remix_through_litellm(tmp_path: Path, openai_sandbox: SandboxServer) -> None:
    started = time.monotonic()
    with (
        FaultProxy(openai_sandbox.base_url) as upstream,  # counts what reaches the sandbox
        litellm_proxy(upstream.base_url, tmp_path) as gateway,
    ):
        ready = time.monotonic()
        server = build_server(_settings(tmp_path, gateway))
        async with Client(server) as client:
            with anyio.fail_after(60):
                created = await client.call_tool("create_video", CREATE)
                job = structured(created)
                video_id = job["video_id"]
                status = structured(
                    await client.call_tool("get_video_status", {"video_id": video_id, "wait_seconds": 30})
                )
                thumbnail = await client.call_tool("download_video", {"video_id": video_id, "variant": "thumbnail"})
                remixed = await client.call_tool(
                    "remix_video", {"video_id": video_id, "prompt": "the same lighthouse at night", "wait_seconds": 30}
                )
                deleted = await client.call_tool("delete_video", {"video_id": video_id})
                upstream.add(Fault(route="create", forward=False, status=400, json=UPSTREAM_400, times=1))
                refused = await client.call_tool("create_video", {**CREATE, "prompt": "refused upstream"})
                upstream.add(Fault(route="create", drop=True, times=1))  # the sandbox made it; the answer is lost
                lost = await client.call_tool("create_video", {**CREATE, "prompt": "answer lost"})
                again = await client.call_tool("create_video", {**CREATE, "prompt": "answer lost"})
                listed = structured(await client.call_tool("list_videos", {}))
        finished = time.monotonic()
    # the id is LiteLLM's, never a file name; files are named by its hash
    assert video_id.startswith("video_") and len(video_id) > 200, video_id
    assert status["status"] == "completed", status
    files = status["files"]
    for key in ("video", "thumbnail", "spritesheet"):
        assert files[key], (key, files, text_of(created))
        path = Path(files[key])
        assert path.is_file() and path.parent == tmp_path / "out" and video_id not in path.name
    assert Path(files["video"]).read_bytes()[4:8] == b"ftyp"
    assert Path(files["thumbnail"]).read_bytes()[:4] == b"RIFF"  # WebP, derived from the MP4
    assert Path(files["spritesheet"]).read_bytes()[:2] == b"\xff\xd8"  # JPEG, derived from the MP4
    assert not thumbnail.is_error, text_of(thumbnail)
    remix = structured(remixed)
    assert remix["status"] == "completed" and remix["video_id"] != video_id and remix["files"]["video"]
    error = error_of(deleted)
    assert error["code"] == "unsupported" and "405" in error["message"], error
    assert upstream.count("delete") == 0
    # an upstream error nested as JSON text inside LiteLLM's message is unwrapped: the upstream's words
    nested = error_of(refused)
    assert nested["message"].startswith("Invalid value: '10'."), nested
    assert (nested["param"], nested["code"]) == ("seconds", "invalid_value")
    assert "litellm.BadRequestError" in json.dumps(nested["provider_error"])
    # a lost create answer behind LiteLLM: no list is tried (it never reaches the upstream), nothing is re-sent
    unknown = error_of(lost)
    assert unknown["code"] == "create_unconfirmed" and "cannot be searched" in unknown["message"], unknown
    retried = structured(again)  # the agent retries: the same job comes back, nothing is sent
    assert retried["job_id"] == unknown["job"]["job_id"] and retried["reused"] is True
    assert upstream.forwarded("create") == 2 and upstream.count("list") == 0
    assert upstream.forwarded("remix") == 1 and len(openai_sandbox.state.jobs) == 3
    assert [j["status"] for j in listed["jobs"]][:2] == ["unknown", "create_failed"]
    everything = json.dumps([r.model_dump(mode="json") for r in (created, thumbnail, remixed, deleted, refused, lost)])
    assert PROXY_KEY not in everything and CANARY_KEY not in everything
    logger.warning(  # the figures for the closing note (shown with -rA or on failure)
        "litellm run: %s",
        json.dumps(
            {
                "litellm": LITELLM[0],
                "proxy_start_s": round(ready - started, 2),
                "run_s": round(finished - ready, 2),
                "upstream": {
                    r: upstream.count(r) for r in ("create", "retrieve", "content", "remix", "list", "delete")
                },
                "id_chars": len(video_id),
            }
        ),
    )
