"""The player over HTTP: the app plays the signed download links, and its CSP allows exactly the server's origin.

In stdio mode the MP4 travels as a base64 blob through the host (`tests/test_player.py`); over HTTP it need not,
so an MP4 over the blob limit still plays. Over stateless HTTP only the 2026-07-28 era sends the client's
capabilities with each request; a handshake-era client's `initialize` is forgotten with its request, so the server
cannot know it negotiated Apps and serves it what every client without Apps gets (tested below).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from sora_mcp.player.app import PLAYER_URI
from tests.http_support import http_server, mcp_client
from tests.videos_support import SORA2_4S, structured, text_of

pytestmark = pytest.mark.anyio

APPS = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})


async def test_over_http_the_player_gets_signed_links_and_a_csp_for_them(tmp_path: Path) -> None:
    env = {"SORA_MCP_NO_AUTH": "true", "SORA_MCP_PLAYER_MAX_VIDEO_MB": "0.01"}
    with http_server(tmp_path, env) as running:
        async with mcp_client(running.mcp_url, "auto", extensions=[APPS]) as client:
            page = (await client.read_resource(PLAYER_URI)).contents[0].model_dump(mode="json", by_alias=True)
            assert page["_meta"]["ui"]["csp"] == {"connectDomains": [], "resourceDomains": [running.url]}
            created = await client.call_tool(
                "create_video", {"prompt": "a lighthouse", "video": SORA2_4S, "wait_seconds": 30}
            )
            assert not created.is_error, text_of(created)
            media = structured(await client.call_tool("player_media", {"video_id": structured(created)["video_id"]}))
        video = media["video"]
        assert video["sendable"] is False  # over the blob limit, yet playable: the link needs no message
        assert video["url"].startswith(running.url + "/downloads/")
        async with httpx.AsyncClient(timeout=30) as http:
            whole = await http.get(video["url"])
            part = await http.get(video["url"], headers={"Range": "bytes=0-99"})
            sheet = await http.get(media["spritesheet"]["url"])
        assert whole.status_code == 200 and len(whole.content) == video["bytes"] and whole.content[4:8] == b"ftyp"
        assert part.status_code == 206 and part.content == whole.content[:100]  # the player's <video> seeks by range
        assert sheet.status_code == 200 and sheet.content[:3] == b"\xff\xd8\xff"  # JPEG


async def test_a_handshake_era_client_over_stateless_http_gets_the_tools_without_apps(tmp_path: Path) -> None:
    with http_server(tmp_path, {"SORA_MCP_NO_AUTH": "true"}) as running:
        async with mcp_client(running.mcp_url, "legacy", extensions=[APPS]) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            refused = await client.call_tool("player_media", {"video_id": "video_x"})
    assert "player_media" not in tools and "ui" not in (tools["create_video"].meta or {})
    assert refused.is_error and text_of(refused) == "Unknown tool: player_media"
