"""The player app in a real browser: Debian's headless Chromium, a host page built on ext-apps' AppBridge, and a
live `sora-mcp serve` (stdio, sandbox backend) behind it.

The host page (tests/player_host) embeds the app's HTML in a sandboxed iframe with the spec's CSP and forwards the
app's `tools/call` and `resources/read` to this test, which sends them over a real MCP client session. Every other
request the page or the app makes is recorded and refused: the app must need nothing but the bridge.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from sora_mcp.jobs.ledger import Ledger, Location
from sora_mcp.player.app import PLAYER_URI
from tests.player_host.provision import CHROMIUM, HERE, bundle

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
HOST = "http://player-host.test"
SCREENSHOT = ROOT / "docs" / "player.png"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SORA2 = {"model": "sora-2", "seconds": "4", "size": "1280x720"}
WAIT_MS = 60_000

if not CHROMIUM.exists():  # .ci/run installs it (apt-get install -y chromium)
    pytest.skip(
        f"SKIPPED LOUDLY: {CHROMIUM} is missing; install Debian's browser with `apt-get install -y chromium`",
        allow_module_level=True,
    )


def _wire(model: Any) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return data


@dataclass
class Player:
    """One live server, one browser; `mount` shows a tool result in the player as a host would."""

    client: Client
    browser: Any
    home: Path
    blocked: list[str] = field(default_factory=list)

    @property
    def ledger(self) -> Path:
        return self.home / "sora-home" / "ledger.sqlite3"

    async def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return _wire(await self.client.call_tool(name, arguments))

    async def mount(
        self,
        result: dict[str, Any],
        *,
        tool: str = "create_video",
        tool_input: dict[str, Any] | None = None,
        theme: str = "light",
        refuse: tuple[str, ...] = (),
    ) -> tuple[Any, Any]:
        page = await self.browser.new_page(viewport={"width": 760, "height": 900})

        async def serve(route: Any) -> None:
            url: str = route.request.url
            if url == f"{HOST}/host.html":
                await route.fulfill(body=(HERE / "host.html").read_text(), content_type="text/html")
            elif url == f"{HOST}/host.bundle.js":
                await route.fulfill(body=bundle().read_text(), content_type="text/javascript")
            else:
                self.blocked.append(url)
                await route.abort()

        await page.route("**/*", serve)

        async def call_tool(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
            return await self.call(name, arguments)

        async def read_resource(uri: str) -> dict[str, Any]:
            return _wire(await self.client.read_resource(uri))

        await page.expose_function("mcpCallTool", call_tool)
        await page.expose_function("mcpReadResource", read_resource)
        await page.goto(f"{HOST}/host.html")
        tools = [_wire(t) for t in (await self.client.list_tools()).tools]
        resource = _wire((await self.client.read_resource(PLAYER_URI)).contents[0])
        await page.evaluate(
            "args => window.soraHost.mount(args)",
            {
                "resource": resource,
                "tools": tools,
                "toolName": tool,
                "toolInput": tool_input or {},
                "toolResult": result,
                "theme": theme,
                "refuseTools": list(refuse),
            },
        )
        frame = page.frame_locator("#app")
        app = next(f for f in page.frames if f is not page.main_frame)
        await frame.locator("#status").wait_for()
        return page, app

    def jobs(self) -> list[dict[str, Any]]:
        with sqlite3.connect(self.ledger) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute("SELECT * FROM jobs ORDER BY created_at")]


@asynccontextmanager
async def player(tmp_path: Path, **env: str) -> AsyncIterator[Player]:
    from playwright.async_api import async_playwright

    bundle()  # provision before the clock of any page starts
    home = tmp_path
    server_env = {
        **os.environ,
        "SORA_MCP_HOME": str(home / "sora-home"),
        "SORA_MCP_OUTPUT_DIR": str(home / "out"),
        "SORA_MCP_SANDBOX_TIME_SCALE": "2",
        **env,
    }
    script = Path(sys.executable).with_name("sora-mcp")
    command = [str(script), "serve"] if script.exists() else [sys.executable, "-m", "sora_mcp", "serve"]
    params = StdioServerParameters(command=command[0], args=command[1:], env=server_env, cwd="/")
    apps = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})
    async with Client(params, extensions=[apps]) as client, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield Player(client=client, browser=browser, home=home)
        finally:
            await browser.close()


async def _until(app: Any, script: str, arg: Any = None) -> Any:
    handle = await app.wait_for_function(script, arg=arg, timeout=WAIT_MS)
    return await handle.json_value()


async def _notice(app: Any, about: str = "") -> str:
    """The notice's text once it shows, and (with `about`) once it is about that: an earlier notice may still be up."""
    script = (
        "(about) => { const n = document.getElementById('notice'); return !n.hidden && n.textContent.includes(about); }"
    )
    await _until(app, script, about)
    text: str = await app.evaluate("() => document.getElementById('notice').textContent")
    return text


def _luminance(rgb: str) -> float:
    r, g, b = (int(v) for v in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


async def _background(app: Any) -> float:
    return _luminance(await app.evaluate("() => getComputedStyle(document.body).backgroundColor"))


async def test_the_player_follows_the_render_plays_scrubs_remixes_and_downloads(tmp_path: Path) -> None:
    async with player(tmp_path) as p:
        tools = (await p.client.list_tools()).tools
        listed = {t.name: t for t in tools}
        assert (listed["player_media"].meta or {})["ui"]["visibility"] == ["app"]
        assert (listed["create_video"].meta or {})["ui"]["resourceUri"] == PLAYER_URI

        created = await p.call("create_video", {"prompt": "a paper boat on a pond", "video": SORA2, "wait_seconds": 0})
        assert created["structuredContent"]["status"] in ("queued", "in_progress")
        page, app = await p.mount(created, tool_input={"prompt": "a paper boat on a pond"})
        model_tools = await page.evaluate("tools => window.soraHost.modelTools(tools)", [_wire(t) for t in tools])
        assert "player_media" not in model_tools and "create_video" in model_tools

        # live progress: the bar's value rises while the job renders, then the player appears
        seen: list[int] = []
        while True:
            state = await _until(
                app,
                "seen => { const b = document.getElementById('bar'), s = document.getElementById('status');"
                " const v = Number(b.value); return (s.dataset.status === 'completed' || !seen.includes(v))"
                " ? {value: v, status: s.dataset.status} : false }",
                seen,
            )
            if state["status"] == "completed":
                break
            seen.append(state["value"])
        assert len(seen) >= 2 and seen == sorted(seen) and seen[-1] > seen[0], seen
        assert (await app.evaluate("() => document.getElementById('progress').hidden")) is True

        # playback: the MP4 came as a data: URL from sora://videos/{id}/content, the thumbnail is its poster
        await _until(app, "() => { const v = document.getElementById('video'); return !v.hidden && v.readyState >= 2 }")
        video = await app.evaluate(
            "() => { const v = document.getElementById('video');"
            " return {src: v.src.split(',')[0], poster: v.poster.split(',')[0], duration: v.duration} }"
        )
        assert video["src"] == "data:video/mp4;base64" and video["poster"] == "data:image/webp;base64"
        assert 3.5 < video["duration"] < 4.5
        await app.focus("#stage")
        await page.keyboard.press("Space")  # keyboard: space plays
        assert await _until(app, "() => document.getElementById('video').currentTime > 0.5")
        await app.focus("#stage")
        await page.keyboard.press("Space")
        assert await _until(app, "() => document.getElementById('video').paused")

        # storyboard: the spritesheet's 16 frames (4 x 4), each a button that seeks
        tiles = await _until(app, "() => document.querySelectorAll('#storyboard button').length || false")
        assert tiles == 16
        sheet = await app.evaluate(
            "() => [...document.querySelectorAll('#storyboard button')].map(b => "
            "[b.style.backgroundImage.slice(0, 28), b.style.backgroundPosition])"
        )
        assert all(image == 'url("data:image/jpeg;base64,' for image, _ in sheet)
        assert len({position for _, position in sheet}) == 16
        await app.click("#storyboard li:nth-child(9) button")
        assert abs(await app.evaluate("() => document.getElementById('video').currentTime") - 8 * 4 / 15) < 0.3
        await page.keyboard.press("ArrowRight")  # arrows move along the storyboard and seek
        assert await app.evaluate("() => document.activeElement.getAttribute('aria-label')") == "Frame at 2.4 s"

        # facts
        facts = await app.evaluate("() => document.getElementById('facts').innerText")
        for expected in ("a paper boat on a pond", "sora-2", "1280x720", "4 s", "simulated"):
            assert expected in facts
        await page.screenshot(path=str(tmp_path / "player-light.png"))
        if os.environ.get("UPDATE_PLAYER_SCREENSHOT"):
            SCREENSHOT.parent.mkdir(exist_ok=True)
            await page.locator("#app").screenshot(path=str(SCREENSHOT))

        # themes from the host context
        assert await app.evaluate("() => document.documentElement.dataset.theme") == "light"
        assert await _background(app) > 0.9
        await page.evaluate("() => window.soraHost.setTheme('dark')")
        await _until(app, "() => document.documentElement.dataset.theme === 'dark'")
        assert await _background(app) < 0.15

        # download: handed to the host as a link to the sora:// blob
        await app.click("#download")
        downloads = await page.evaluate("() => window.hostLog.downloads")
        video_id = created["structuredContent"]["video_id"]
        assert downloads == [
            [{"type": "resource_link", "uri": f"sora://videos/{video_id}/content", "name": f"{video_id}.mp4",
              "mimeType": "video/mp4"}]
        ]  # fmt: skip

        # remix: a real tools/call through the bridge creates a job at the provider, and the player follows it
        await app.fill("#remix-prompt", "the boat is red")
        await app.focus("#remix")
        await page.keyboard.press("Enter")
        await _until(app, f"() => document.getElementById('title').textContent !== 'Video {video_id}'")
        calls = await page.evaluate("() => window.hostLog.calls.map(c => c.name)")
        assert "remix_video" in calls and "player_media" in calls and "get_video_status" in calls
        remix = [j for j in p.jobs() if j["kind"] == "remix"]
        assert len(remix) == 1 and remix[0]["parent_video_id"] == video_id and remix[0]["prompt"] == "the boat is red"
        assert remix[0]["video_id"] and remix[0]["video_id"] in await app.evaluate(
            "() => document.getElementById('title').textContent"
        )
        await _until(app, "() => document.getElementById('status').dataset.status === 'completed'")

        # nothing left the page but the bridge: no request beyond the host page itself
        assert p.blocked == []
        reads = await page.evaluate("() => window.hostLog.reads")
        assert f"sora://videos/{video_id}/content" in reads and f"sora://videos/{video_id}/spritesheet" in reads


async def test_a_job_that_fails_while_the_player_is_open_says_why_and_what_to_do(tmp_path: Path) -> None:
    async with player(tmp_path) as p:
        created = await p.call("create_video", {"prompt": "[blocked] a crowd", "video": SORA2, "wait_seconds": 0})
        page, app = await p.mount(created)
        text = await _notice(app)
        assert "The video failed" in text and "moderation" in text.lower() and "What to do:" in text
        assert await app.evaluate("() => document.getElementById('status').dataset.status") == "failed"
        await page.close()


async def test_a_job_deleted_or_expired_while_the_player_is_open_is_shown_as_such(tmp_path: Path) -> None:
    async with player(tmp_path, SORA_MCP_SANDBOX_TIME_SCALE="0.2") as p:
        done = await p.call("create_video", {"prompt": "a lighthouse", "video": SORA2, "wait_seconds": 20})
        video_id = done["structuredContent"]["video_id"]
        page, app = await p.mount(done)
        await _until(app, "() => !document.getElementById('actions').hidden")
        deleted = await p.call("delete_video", {"video_id": video_id})  # the assistant deletes it meanwhile
        assert not deleted.get("isError"), deleted
        text = await _notice(app)  # seen at the player's next look at the ledger
        assert "This video was deleted at the provider" in text and "create it again" in text
        assert "still plays here" in text
        assert await app.evaluate("() => document.getElementById('actions').hidden") is True
        await page.close()

    async with player(tmp_path / "expiring", SORA_MCP_SANDBOX_TIME_SCALE="6") as p:
        expiring = await p.call("create_video", {"prompt": "a windmill", "video": SORA2, "wait_seconds": 0})
        _, app = await p.mount(expiring)
        await _until(app, "() => Number(document.getElementById('bar').value) > 0")
        ledger = Ledger(Location.sqlite(p.ledger))
        try:
            await ledger.update_from_provider("local", expiring["structuredContent"]["video_id"], "expired")
        finally:
            await ledger.close()
        text = await _notice(app)
        assert "This video expired at the provider" in text and "create it again" in text


async def test_a_video_over_the_size_limit_shows_the_thumbnail_and_the_path(tmp_path: Path) -> None:
    async with player(tmp_path, SORA_MCP_PLAYER_MAX_VIDEO_MB="0.01", SORA_MCP_SANDBOX_TIME_SCALE="0.2") as p:
        done = await p.call("create_video", {"prompt": "a meadow", "video": SORA2, "wait_seconds": 20})
        assert done["structuredContent"]["status"] == "completed"
        page, app = await p.mount(done)
        text = await _notice(app)
        path = done["structuredContent"]["files"]["video"]
        assert "Too large to play here" in text and "over the player's limit of 0.01 MB" in text and path in text
        assert await _until(app, "() => { const i = document.getElementById('still'); return !i.hidden && i.src }")
        assert await app.evaluate("() => document.getElementById('video').hidden") is True
        reads = await page.evaluate("() => window.hostLog.reads")
        assert not any(r.endswith("/content") for r in reads)  # the MP4 never crossed the bridge


async def test_a_host_that_refuses_the_apps_tool_calls_is_explained(tmp_path: Path) -> None:
    async with player(tmp_path, SORA_MCP_SANDBOX_TIME_SCALE="0.2") as p:
        done = await p.call("create_video", {"prompt": "a kite", "video": SORA2, "wait_seconds": 20})
        page, app = await p.mount(done, refuse=("remix_video",))
        await _until(app, "() => !document.getElementById('actions').hidden")
        await app.fill("#remix-prompt", "two kites")
        await app.click("#remix")
        text = await _notice(app)
        assert "The host refused the app's call to remix_video" in text and "Ask the assistant" in text
        assert await page.evaluate("() => window.hostLog.refused") == ["remix_video"]
        assert [j["kind"] for j in p.jobs()] == ["create"]  # nothing was created

        await app.fill("#extend-prompt", "the kite lands")  # a refusal by the server says what to do instead
        await app.click("#extend")
        text = await _notice(app, "extend_video")  # the remix refusal is still shown until this one replaces it
        assert "extend_video was refused" in text and "cannot be extended" in text and "What to do:" in text

        running = await p.call("create_video", {"prompt": "a slow kite", "video": SORA2, "wait_seconds": 0})
        _, app = await p.mount(running, refuse=("get_video_status",))
        text = await _notice(app)
        assert "refused the app's call to get_video_status" in text


async def test_extend_from_the_player_creates_the_continuation(tmp_path: Path) -> None:
    async with player(tmp_path, SORA_MCP_PROFILE="openai", SORA_MCP_SANDBOX_TIME_SCALE="0.2") as p:
        done = await p.call("create_video", {"prompt": "a kite", "video": SORA2, "wait_seconds": 20})
        video_id = done["structuredContent"]["video_id"]
        page, app = await p.mount(done)
        await _until(app, "() => !document.getElementById('actions').hidden")
        await app.fill("#extend-prompt", "the kite lands")
        await app.fill("#extend-seconds", "4")
        await app.click("#extend")
        await _until(app, "() => document.getElementById('notice').textContent.includes('Extension started')")
        extended = [j for j in p.jobs() if j["kind"] == "extend"]
        assert len(extended) == 1 and extended[0]["parent_video_id"] == video_id
        await _until(app, "() => document.getElementById('status').dataset.status === 'completed'")
        assert await _until(app, "() => document.getElementById('f-seconds').textContent") == "8 s"  # stitched
        calls = await page.evaluate("() => window.hostLog.calls.map(c => c.name)")
        assert calls.count("extend_video") == 1
