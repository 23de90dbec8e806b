"""The player as an MCP App: its `ui://` resource, the tools linked to it, and graceful degradation.

The SDK's `Apps` extension serves the HTML (`text/html;profile=mcp-app`, with its CSP) and advertises
`io.modelcontextprotocol/ui`. The tools themselves stay built by `tooling` (the live catalog rebuilds them, which
`Apps.tool` registrations would not survive): `link` stamps `_meta.ui` on them the way `Apps.tool` does. A client
that did not negotiate Apps sees exactly the tools and results it saw before: `AppsGate` drops `_meta.ui` and the
app-only tools from its `tools/list` (and the `ui://` page from `resources/list`) and answers a call to an
app-only tool as the SDK answers an unknown one.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from mcp.server.apps import Apps, ResourceCsp, client_supports_apps
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver.tools.base import Tool
from mcp.types import CallToolResult, TextContent

PLAYER_URI = "ui://sora-mcp/player.html"
LINKED_TOOLS = frozenset({"create_video", "get_video_status", "remix_video", "extend_video", "create_long_video"})
"""Tools whose results the host renders with the player (the model sees and calls them as before)."""
APP_ONLY_TOOLS = frozenset({"player_media"})
"""Tools the player calls and the model never sees (`_meta.ui.visibility: ["app"]`)."""
MAX_HTML_BYTES = 100_000


def player_html() -> str:
    html = files("sora_mcp.player").joinpath("player.html").read_text(encoding="utf-8")
    assert len(html.encode()) <= MAX_HTML_BYTES, "the player must stay small"
    return html


def apps_extension(media_origin: str | None = None) -> Apps:
    """`ui://sora-mcp/player.html`: self-contained (no CDN, fonts or fetches).

    In stdio mode media arrive as `data:` URLs built from resource blobs, which the spec's default CSP allows, so
    the CSP asks for no domains; over HTTP the player plays the signed download links, so the server's own origin
    (`media_origin`) is the one resource domain it declares.
    """
    apps = Apps()
    apps.add_html_resource(
        PLAYER_URI,
        player_html(),
        name="video-player",
        title="Video player",
        description="Live progress, playback, storyboard and remix/extend/download for a video job.",
        csp=ResourceCsp(connect_domains=[], resource_domains=[media_origin] if media_origin else []),
        prefers_border=True,
    )
    return apps


def link(tools: list[Tool]) -> list[Tool]:
    """`_meta.ui` on the linked tools (rendered with the player) and the app-only ones (hidden from the model)."""
    for tool in tools:
        if tool.name in LINKED_TOOLS:
            tool.meta = {**(tool.meta or {}), "ui": {"resourceUri": PLAYER_URI}}
        elif tool.name in APP_ONLY_TOOLS:
            tool.meta = {**(tool.meta or {}), "ui": {"resourceUri": PLAYER_URI, "visibility": ["app"]}}
    return tools


def _model_view(tool: dict[str, Any]) -> dict[str, Any]:
    """A listed tool (wire form) without `_meta.ui`, and without `_meta` when nothing else was in it."""
    meta = {k: v for k, v in (tool.get("_meta") or {}).items() if k != "ui"}
    view = {k: v for k, v in tool.items() if k != "_meta"}
    return {**view, "_meta": meta} if meta else view


class AppsGate:
    """Middleware: what a client without Apps sees is what it saw before the player existed."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "tools/call" and not client_supports_apps(ctx):
            name = (ctx.params or {}).get("name")
            if name in APP_ONLY_TOOLS:
                return CallToolResult(content=[TextContent(type="text", text=f"Unknown tool: {name}")], is_error=True)
        result = await call_next(ctx)
        # handlers' answers reach middleware in wire form (dicts)
        if ctx.method == "tools/list" and isinstance(result, dict) and not client_supports_apps(ctx):
            listed = result.get("tools")
            if isinstance(listed, list):
                result = {**result, "tools": [_model_view(t) for t in listed if t.get("name") not in APP_ONLY_TOOLS]}
        if ctx.method == "resources/list" and isinstance(result, dict) and not client_supports_apps(ctx):
            listed = result.get("resources")
            if isinstance(listed, list):
                result = {**result, "resources": [r for r in listed if not str(r.get("uri", "")).startswith("ui://")]}
        return result
