"""The player app's server side, in both protocol eras: what Apps clients get, and that others see no change.

The browser half (the app itself, in Chromium behind ext-apps' AppBridge) is tests/test_player_browser.py.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.shared.exceptions import MCPError
from PIL import Image

from sora_mcp.player.app import APP_ONLY_TOOLS, LINKED_TOOLS, MAX_HTML_BYTES, PLAYER_URI, player_html
from sora_mcp.player.storyboard import detect
from sora_mcp.server import build_server
from sora_mcp.settings import Settings
from sora_mcp.videos.service import derive_image
from tests.videos_support import SORA2_4S, error_of, structured

pytestmark = pytest.mark.anyio
APPS = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})
MODEL_TOOLS = {
    "list_models",
    "validate_params",
    "fit_reference_image",
    "create_video",
    "get_video_status",
    "list_videos",
    "download_video",
    "remix_video",
    "extend_video",
    "delete_video",
    "plan_long_video",
    "create_long_video",
}
ERAS = ["auto", "legacy"]


def _settings(home: Path, **env: str) -> Settings:
    values = {
        "SORA_MCP_HOME": str(home / "sora-home"),
        "SORA_MCP_OUTPUT_DIR": str(home / "out"),
        "SORA_MCP_SANDBOX_TIME_SCALE": "0.05",
        **env,
    }
    return Settings.resolve(env=values, user_home=home)


def _listed(tools: Any) -> list[dict[str, Any]]:
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools.tools]


@pytest.mark.parametrize("mode", ERAS)
async def test_clients_without_apps_see_exactly_the_tools_they_saw_before(mode: str, tmp_path: Path) -> None:
    server = build_server(_settings(tmp_path))
    async with Client(server, mode=mode) as plain, Client(server, mode=mode, extensions=[APPS]) as apps:
        before = _listed(await plain.list_tools())
        with_apps = _listed(await apps.list_tools())
        plain_resources = [str(r.uri) for r in (await plain.list_resources()).resources]
        apps_resources = [str(r.uri) for r in (await apps.list_resources()).resources]
        refused = await plain.call_tool("player_media", {"video_id": "anything"})
    assert {t["name"] for t in before} == MODEL_TOOLS
    assert all("_meta" not in t for t in before)
    assert {t["name"] for t in with_apps} == MODEL_TOOLS | APP_ONLY_TOOLS
    for tool in with_apps:
        ui = tool.get("_meta", {}).get("ui")
        if tool["name"] in LINKED_TOOLS:
            assert ui == {"resourceUri": PLAYER_URI}
        elif tool["name"] in APP_ONLY_TOOLS:
            assert ui == {"resourceUri": PLAYER_URI, "visibility": ["app"]}
        else:
            assert ui is None
    stripped = [{k: v for k, v in t.items() if k != "_meta"} for t in with_apps if t["name"] not in APP_ONLY_TOOLS]
    assert stripped == before  # the same tools, byte for byte, but for `_meta.ui`
    assert plain_resources == [] and apps_resources == [PLAYER_URI]
    assert refused.is_error and refused.content[0].model_dump()["text"] == "Unknown tool: player_media"


@pytest.mark.parametrize("mode", ERAS)
async def test_results_are_the_same_with_or_without_apps(mode: str, tmp_path: Path) -> None:
    server = build_server(_settings(tmp_path))
    async with Client(server, mode=mode) as plain, Client(server, mode=mode, extensions=[APPS]) as apps:
        args = {"prompt": "a heron", "video": SORA2_4S, "wait_seconds": 20}
        first = await plain.call_tool("create_video", args)
        second = await apps.call_tool("create_video", args)  # identical: the same job, returned
    one, two = structured(first), structured(second)
    assert one["video_id"] == two["video_id"] and two["reused"] is True
    assert (
        [b.type for b in first.content]
        == [b.type for b in second.content]
        == [
            "text",
            "image",
            "resource_link",
            "resource_link",
        ]
    )
    assert "ui" not in (first.meta or {}) and "ui" not in (second.meta or {})


async def test_the_app_resource_is_small_self_contained_and_declares_its_csp(tmp_path: Path) -> None:
    async with Client(build_server(_settings(tmp_path)), extensions=[APPS]) as client:
        read = await client.read_resource(PLAYER_URI)
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
    page = read.contents[0].model_dump(mode="json", by_alias=True)
    assert page["mimeType"] == APP_MIME_TYPE
    assert page["_meta"]["ui"]["csp"] == {"connectDomains": [], "resourceDomains": []}
    html = page["text"]
    assert html == player_html() and len(html.encode()) <= MAX_HTML_BYTES
    # nothing remote: no URLs, no fetches, sockets, workers, fonts or imports; only the bridge (postMessage)
    assert re.search(r"https?://", html) is None
    for forbidden in ("fetch(", "XMLHttpRequest", "WebSocket", "EventSource", "@import", "@font-face", "Worker("):
        assert forbidden not in html
    assert "window.parent.postMessage" in html
    assert {f"sora://videos/{{video_id}}/{a}" for a in ("content", "thumbnail", "spritesheet")} <= templates


@pytest.mark.parametrize("mode", ERAS)
async def test_player_media_and_blobs_carry_the_jobs_files(mode: str, tmp_path: Path) -> None:
    async with Client(build_server(_settings(tmp_path)), mode=mode, extensions=[APPS]) as client:
        done = structured(
            await client.call_tool("create_video", {"prompt": "a fox", "video": SORA2_4S, "wait_seconds": 20})
        )
        media = structured(await client.call_tool("player_media", {"video_id": done["video_id"]}))
        blobs = {
            asset: (await client.read_resource(f"sora://videos/{done['video_id']}/{asset}")).contents[0]
            for asset in ("content", "thumbnail", "spritesheet")
        }
        unknown = await client.call_tool("player_media", {"video_id": "video_nope"})
    assert media["status"] == "completed" and media["limit_bytes"] == 16_000_000
    assert media["storyboard"] == {"columns": 4, "rows": 4, "tiles": 16}
    for asset, key in (("content", "video"), ("thumbnail", "thumbnail"), ("spritesheet", "spritesheet")):
        file = media[key]
        data = Path(file["path"]).read_bytes()
        assert file["uri"] == f"sora://videos/{done['video_id']}/{asset}" and file["bytes"] == len(data)
        assert file["sendable"] is True and "url" not in file
        assert base64.b64decode(blobs[asset].model_dump()["blob"]) == data
    assert media["video"]["path"] == done["files"]["video"]
    assert "No video found with id 'video_nope'" in error_of(unknown)["message"]


async def test_an_mp4_over_the_limit_is_described_and_never_sent(tmp_path: Path) -> None:
    server = build_server(_settings(tmp_path, SORA_MCP_PLAYER_MAX_VIDEO_MB="0.01"))
    async with Client(server, extensions=[APPS]) as client:
        done = structured(
            await client.call_tool("create_video", {"prompt": "a owl", "video": SORA2_4S, "wait_seconds": 20})
        )
        media = structured(await client.call_tool("player_media", {"video_id": done["video_id"]}))
        with pytest.raises(MCPError) as refused:
            await client.read_resource(f"sora://videos/{done['video_id']}/content")
        thumbnail = await client.read_resource(f"sora://videos/{done['video_id']}/thumbnail")
    video = media["video"]
    assert video["sendable"] is False and media["limit_bytes"] == 10_000
    assert f"The MP4 is {video['bytes'] / 1e6:.1f} MB, over the player's limit of 0.01 MB" in video["reason"]
    assert done["files"]["video"] in video["reason"] and "SORA_MCP_PLAYER_MAX_VIDEO_MB" in video["reason"]
    assert str(refused.value) == video["reason"]
    assert thumbnail.contents[0].model_dump()["blob"]  # the poster still comes


async def test_blobs_of_a_job_without_files_say_when_they_will_exist(tmp_path: Path) -> None:
    server = build_server(_settings(tmp_path, SORA_MCP_SANDBOX_TIME_SCALE="20"))
    async with Client(server, extensions=[APPS]) as client:
        job = structured(
            await client.call_tool("create_video", {"prompt": "a slow snail", "video": SORA2_4S, "wait_seconds": 0})
        )
        media = structured(await client.call_tool("player_media", {"video_id": job["video_id"]}))
        with pytest.raises(MCPError) as missing:
            await client.read_resource(f"sora://videos/{job['video_id']}/content")
        with pytest.raises(MCPError) as unknown:
            await client.read_resource("sora://videos/video_nope/content")
    assert "video" not in media and "storyboard" not in media and media["status"] in ("queued", "in_progress")
    assert f"Video {job['video_id']} has no content file yet" in str(missing.value)
    assert "get_video_status downloads the files" in str(missing.value)
    assert "No video found with id 'video_nope'" in str(unknown.value)


def _sheet(path: Path, columns: int, rows: int, tile: tuple[int, int], frames: int) -> Path:
    sheet = Image.new("RGB", (columns * tile[0], rows * tile[1]))
    for k in range(frames):
        shade = 40 + 200 * k // max(1, frames - 1)
        x, y = k % columns * tile[0], k // columns * tile[1]
        sheet.paste((shade, 90, 200 - shade // 2), (x, y, x + tile[0], y + tile[1]))
    sheet.save(path, "JPEG", quality=85)
    return path


@pytest.mark.parametrize(
    ("columns", "rows", "tile", "frames", "video"),
    [
        (4, 4, (256, 144), 16, (1280, 720)),  # the sandbox's sheet
        (4, 4, (144, 256), 16, (720, 1280)),  # the sandbox's, portrait
        (4, 3, (256, 144), 10, (1280, 720)),  # fewer frames than cells: black padding
        (5, 2, (160, 90), 10, (1280, 720)),  # made from an MP4 (derive_image)
        (4, 4, (256, 146), 16, (1792, 1024)),  # sora-2-pro's wide size (tile heights rounded even)
    ],
)
def test_storyboard_grids_are_found(
    tmp_path: Path, columns: int, rows: int, tile: tuple[int, int], frames: int, video: tuple[int, int]
) -> None:
    grid = detect(_sheet(tmp_path / "sheet.jpg", columns, rows, tile, frames), *video)
    assert (grid.columns, grid.rows, grid.tiles) == (columns, rows, frames)


async def test_a_sheet_made_from_the_mp4_has_its_ten_frames(tmp_path: Path) -> None:
    async with Client(build_server(_settings(tmp_path))) as client:
        done = structured(
            await client.call_tool("create_video", {"prompt": "a crane", "video": SORA2_4S, "wait_seconds": 20})
        )
    sheet = derive_image(Path(done["files"]["video"]), "spritesheet", tmp_path / "derived.jpg")
    assert detect(sheet, 1280, 720).model_dump() == {"columns": 5, "rows": 2, "tiles": 10}


def test_the_size_limit_is_a_setting_with_bounds(tmp_path: Path) -> None:
    from sora_mcp.settings import SettingsError

    assert _settings(tmp_path).player_max_video_mb == 16.0
    assert _settings(tmp_path, SORA_MCP_PLAYER_MAX_VIDEO_MB="64").player_max_video_mb == 64.0
    with pytest.raises(SettingsError, match="SORA_MCP_PLAYER_MAX_VIDEO_MB"):
        _settings(tmp_path, SORA_MCP_PLAYER_MAX_VIDEO_MB="-1")


async def test_a_long_video_opens_in_the_player_with_its_stitched_mp4(tmp_path: Path) -> None:
    long_8 = {"total_seconds": 8, "shots": [{"prompt": "a kite rises"}, {"prompt": "it loops"}], "model": "sora-2"}
    async with Client(build_server(_settings(tmp_path)), extensions=[APPS]) as client:
        linked = {t.name: (t.meta or {}).get("ui") for t in (await client.list_tools()).tools}
        job = structured(
            await client.call_tool("create_long_video", {**long_8, "size": "1280x720", "wait_seconds": 30})
        )
        for _ in range(10):
            if job["status"] == "completed":
                break
            job = structured(
                await client.call_tool("get_video_status", {"video_id": job["job_id"], "wait_seconds": 20})
            )
        media = structured(await client.call_tool("player_media", {"video_id": job["job_id"]}))
        mp4 = (await client.read_resource(f"sora://videos/{job['job_id']}/content")).contents[0]
    assert linked["create_long_video"] == {"resourceUri": PLAYER_URI} and linked["plan_long_video"] is None
    assert job["status"] == "completed" and media["status"] == "completed"
    assert media["video"]["path"] == job["files"]["video"] and media["storyboard"] is not None
    assert base64.b64decode(mp4.model_dump()["blob"]) == Path(job["files"]["video"]).read_bytes()
