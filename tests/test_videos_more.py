"""remix, extend, download and delete, and the video tools' bad-input errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from sora_mcp.sandbox import SandboxServer
from sora_mcp.server import build_server
from tests.videos_support import SORA2_4S, error_of, provider_settings, structured, text_of

pytestmark = pytest.mark.anyio


async def _completed(client: Client, prompt: str, video: dict[str, str] = SORA2_4S) -> dict[str, object]:
    result = await client.call_tool("create_video", {"prompt": prompt, "video": video, "wait_seconds": 20})
    job = structured(result)
    assert job["status"] == "completed", text_of(result)
    return job


async def test_remix_download_and_delete(tmp_path: Path, provider_sandbox: SandboxServer) -> None:
    server = build_server(provider_settings(tmp_path, provider_sandbox))
    async with Client(server) as client:
        original = await _completed(client, "a lighthouse")
        remix = structured(
            await client.call_tool(
                "remix_video", {"video_id": original["video_id"], "prompt": "at night", "wait_seconds": 20}
            )
        )
        assert remix["status"] == "completed" and remix["kind"] == "remix"
        assert remix["parent_video_id"] == original["video_id"]
        assert remix["estimated_cost_usd"] == pytest.approx(0.4)
        spritesheet = await client.call_tool(
            "download_video", {"video_id": remix["video_id"], "variant": "spritesheet"}
        )
        assert not spritesheet.is_error
        assert "spritesheet" in text_of(spritesheet)
        bad_variant = await client.call_tool("download_video", {"video_id": remix["video_id"], "variant": "gif"})
        assert bad_variant.is_error and "'video', 'thumbnail', and 'spritesheet'" in text_of(bad_variant)

        deleted = structured(await client.call_tool("delete_video", {"video_id": original["video_id"]}))
        assert deleted["deleted"] is True
        assert Path(str(original["files"]["video"])).exists()  # type: ignore[index]
        assert original["files"]["video"] in deleted["kept_files"]  # type: ignore[index]
        status = structured(await client.call_tool("get_video_status", {"video_id": original["video_id"]}))
        assert status["status"] == "deleted"
    assert len(provider_sandbox.state.jobs) == 2
    assert provider_sandbox.state.billed_seconds == 8


async def test_extend_within_the_catalog_limits(tmp_path: Path) -> None:
    from sora_mcp.catalog import load_builtin
    from sora_mcp.sandbox import SandboxConfig
    from tests.videos_support import CANARY_KEY

    config = SandboxConfig(catalog=load_builtin("openai"), api_key=CANARY_KEY, time_scale=0.05)
    with SandboxServer(config) as sandbox:
        server = build_server(provider_settings(tmp_path, sandbox, SORA_MCP_PROFILE="openai"))
        async with Client(server) as client:
            original = await _completed(client, "a runner", {"model": "sora-2", "seconds": "4", "size": "1280x720"})
            too_long = await client.call_tool(
                "extend_video", {"video_id": original["video_id"], "prompt": "keeps running", "seconds": 21}
            )
            assert too_long.is_error
            assert error_of(too_long)["message"] == "seconds must be 1 to 20 per extension, got 21."
            extended = structured(
                await client.call_tool(
                    "extend_video",
                    {"video_id": original["video_id"], "prompt": "keeps running", "seconds": 8, "wait_seconds": 20},
                )
            )
        assert extended["status"] == "completed" and extended["kind"] == "extend"
        assert extended["seconds"] == 12  # the stitched total
        assert extended["estimated_cost_usd"] == pytest.approx(0.8)  # only the added seconds are billed
        assert len(sandbox.state.jobs) == 2


async def test_extend_is_refused_where_the_catalog_has_no_extension(
    tmp_path: Path, provider_sandbox: SandboxServer
) -> None:
    server = build_server(provider_settings(tmp_path, provider_sandbox))
    async with Client(server) as client:
        original = await _completed(client, "a bird")
        result = await client.call_tool(
            "extend_video", {"video_id": original["video_id"], "prompt": "flies on", "seconds": 4}
        )
    assert result.is_error
    assert "cannot be extended under profile 'apiyi'" in text_of(result)


async def test_remix_of_an_unfinished_video_is_refused(tmp_path: Path, provider_sandbox: SandboxServer) -> None:
    server = build_server(provider_settings(tmp_path, provider_sandbox))
    async with Client(server) as client:
        job = structured(await client.call_tool("create_video", {"prompt": "x", "video": SORA2_4S, "wait_seconds": 0}))
        result = await client.call_tool("remix_video", {"video_id": job["video_id"], "prompt": "y"})
    assert result.is_error and "only a completed video" in text_of(result)


async def test_a_reference_image_is_fitted_or_refused(tmp_path: Path, provider_sandbox: SandboxServer) -> None:
    from PIL import Image

    photo = tmp_path / "photo.png"
    Image.new("RGB", (800, 600), (200, 30, 30)).save(photo)
    server = build_server(provider_settings(tmp_path, provider_sandbox))
    async with Client(server) as client:
        refused = await client.call_tool(
            "create_video", {"prompt": "x", "video": SORA2_4S, "reference_image": str(photo), "fit": "none"}
        )
        assert refused.is_error
        assert error_of(refused)["message"] == "Inpaint image must match the requested width and height"
        fitted = await client.call_tool(
            "create_video",
            {"prompt": "x", "video": SORA2_4S, "reference_image": str(photo), "fit": "pad", "wait_seconds": 20},
        )
        assert not fitted.is_error, text_of(fitted)
        outside = await client.call_tool(
            "create_video", {"prompt": "x", "video": SORA2_4S, "reference_image": "/etc/hostname"}
        )
        assert outside.is_error and "reference_image" in text_of(outside)
    assert len(provider_sandbox.state.jobs) == 1


async def test_expired_assets_are_reported_as_such(tmp_path: Path) -> None:
    from sora_mcp.catalog import load_builtin
    from sora_mcp.sandbox import SandboxConfig
    from tests.videos_support import CANARY_KEY

    config = SandboxConfig(catalog=load_builtin("apiyi"), api_key=CANARY_KEY, time_scale=0.05, asset_ttl_seconds=0.3)
    with SandboxServer(config) as sandbox:
        server = build_server(provider_settings(tmp_path, sandbox))
        async with Client(server) as client:
            job = structured(
                await client.call_tool("create_video", {"prompt": "gone", "video": SORA2_4S, "wait_seconds": 0})
            )
            import anyio

            await anyio.sleep(2.0)  # the job completes and its download links expire meanwhile
            result = await client.call_tool("get_video_status", {"video_id": job["video_id"], "wait_seconds": 5})
    view = structured(result)
    assert view["status"] == "expired", text_of(result)
    assert view["assets_expired"] is True
    assert "files" not in view or not view["files"].get("video")
    assert "expired" in text_of(result)
