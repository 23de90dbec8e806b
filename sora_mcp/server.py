"""The server factory: one `Settings` in, one ready `MCPServer` out (no globals, no import-time work)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel import NotificationOptions
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.models import InitializationOptions
from mcp.server.request_state import RequestStateSecurity
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ToolsListChanged
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from sora_mcp import __version__
from sora_mcp.catalog import Catalog
from sora_mcp.errors import ToolError
from sora_mcp.player import app as player
from sora_mcp.player import media as player_media
from sora_mcp.runtime import Runtime
from sora_mcp.settings import Settings
from sora_mcp.tooling import ToolSpec, build_tool
from sora_mcp.tools import catalog_listing, images, long_video, validate, videos
from sora_mcp.videos.backend import Backend
from sora_mcp.videos.delivery import Delivery
from sora_mcp.videos.service import VideoService
from sora_mcp.videos.views import job_view, present

logger = logging.getLogger("sora_mcp")

SERVER_NAME = "sora-mcp"
INSTRUCTIONS = (
    "Generate videos with Sora-style video APIs without rejected requests or lost results. Start with list_models, "
    "turn any wish into a legal request with validate_params, then create_video; it returns within 45 s with a job "
    "id, and get_video_status waits for it and downloads the MP4. Every result says whether the offline sandbox or "
    "a real provider served it."
)


def tool_specs(runtime: Runtime, service: VideoService, delivery: Delivery | None = None) -> list[ToolSpec]:
    return [
        *catalog_listing.specs(runtime),
        *validate.specs(runtime),
        *images.specs(runtime),
        *videos.specs(runtime, service, delivery),
        *long_video.specs(runtime, service, delivery),
    ]


def build_tools(runtime: Runtime, service: VideoService | None = None, delivery: Delivery | None = None) -> list[Tool]:
    """Every tool of the server; in read-only mode only those annotated read-only (as github-mcp-server does)."""
    service = service or VideoService(runtime, Backend(runtime))
    tools: list[Tool] = [build_tool(spec, runtime.scrub) for spec in tool_specs(runtime, service, delivery)]
    if runtime.settings.read_only:
        tools = [t for t in tools if t.annotations is not None and t.annotations.read_only_hint]
    return player.link(tools)


def served_tools(runtime: Runtime, service: VideoService, delivery: Delivery | None = None) -> list[Tool]:
    """The model's tools plus the player app's own (hidden from the model and from clients without Apps)."""
    app_tools: list[Tool] = [build_tool(spec, runtime.scrub) for spec in player_media.specs(runtime, service, delivery)]
    return [*build_tools(runtime, service, delivery), *player.link(app_tools)]


MAX_WATCHED_SESSIONS = 256
"""Handshake-era connections told about tool changes; the oldest is forgotten beyond this."""


class ToolListChanges:
    """Tells every client that the tools changed: `notifications/tools/list_changed`.

    2026-07-28 clients get it on their `subscriptions/listen` stream (the server's subscription bus); handshake-era
    clients on their connection, recorded here as a middleware when they send `notifications/initialized`.
    """

    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()
        self._sessions: list[ServerSession] = []

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.method == "notifications/initialized" and ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            self._sessions = [*self._sessions, ctx.session][-MAX_WATCHED_SESSIONS:]
        return result

    async def send(self) -> int:
        """Notify everyone; returns how many handshake-era connections were told (gone ones are dropped)."""
        await self.bus.publish(ToolsListChanged())
        told: list[ServerSession] = []
        for session in self._sessions:
            try:
                await session.send_tool_list_changed()
            except Exception as exc:  # a closed connection: forget it
                logger.debug("tools/list_changed not delivered to a closed connection: %s", type(exc).__name__)
                continue
            told.append(session)
        self._sessions = told
        return len(told)


async def _published(server: MCPServer[Any]) -> list[dict[str, Any]]:
    """What `tools/list` shows, to tell whether a catalog change is visible to clients."""
    return [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in await server.list_tools()]


def _declare_tools_list_changed(server: MCPServer[Any]) -> None:
    """Handshake-era `initialize` answers advertise `tools.listChanged` (2026-07-28 ones derive it themselves)."""
    lowlevel = server._lowlevel_server
    original = lowlevel.create_initialization_options

    def create_initialization_options(
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        options = notification_options or NotificationOptions()
        options.tools_changed = True
        return original(options, experimental_capabilities, extensions)

    lowlevel.create_initialization_options = create_initialization_options  # type: ignore[method-assign]


def _serve_only_what_exists(server: MCPServer[Any]) -> None:
    """No prompts: drop the SDK's prompts handlers so `prompts` is not advertised (capabilities derive from them)."""
    for method in ("prompts/list", "prompts/get"):
        server._lowlevel_server._request_handlers.pop(method, None)


def build_server(
    settings: Settings,
    runtime: Runtime | None = None,
    *,
    service: VideoService | None = None,
    delivery: Delivery | None = None,
    auth: AuthSettings | None = None,
    token_verifier: TokenVerifier | None = None,
    request_state_security: RequestStateSecurity | None = None,
) -> MCPServer:
    """Build the server for `settings`. Raises `CatalogError` / `SettingsError` before serving anything.

    With a live catalog (`runtime.live`: the OpenRouter profile on the provider backend) the lifespan also reads
    the provider's model listing in the background; `initialize` never waits for it. The keyword arguments are
    the HTTP transport's (`sora_mcp.http.app`): remote delivery of files, who may call, and the shared key for
    sealed request state; stdio passes none.
    """
    runtime = runtime or Runtime.create(settings)
    service = service or VideoService(runtime, Backend(runtime))
    changes = ToolListChanges() if runtime.live is not None else None

    async def apply(catalog: Catalog) -> None:
        """Serve `catalog`: every tool rebuilt from it; clients told when what they see changed."""
        if catalog is runtime.catalog:
            return
        before = await _published(server)
        runtime.catalog = catalog
        tools = {tool.name: tool for tool in served_tools(runtime, service, delivery)}
        server._tool_manager._tools = tools  # the SDK has no public way to replace a Tool object
        if await _published(server) != before and changes is not None:
            told = await changes.send()
            logger.info("catalog changed: tools rebuilt, tools/list_changed sent (%d handshake-era clients)", told)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[None]:
        from sora_mcp.longvideo.runner import runner_for

        try:
            async with runner_for(service).running():  # long videos advance in the background, and resume
                if runtime.live is None:
                    yield None
                else:
                    async with anyio.create_task_group() as group:
                        group.start_soon(runtime.live.run, apply)
                        try:
                            yield None
                        finally:
                            group.cancel_scope.cancel()
        finally:
            await service.close()

    live_options: dict[str, Any] = {"subscriptions": changes.bus} if changes is not None else {}
    middleware: list[Any] = [player.AppsGate(), *([changes] if changes is not None else [])]
    server: MCPServer[Any] = MCPServer(
        SERVER_NAME,
        title="Sora video generation",
        instructions=INSTRUCTIONS,
        version=__version__,
        tools=served_tools(runtime, service, delivery),
        log_level=settings.log_level,  # type: ignore[arg-type]
        lifespan=lifespan,
        auth=auth,
        token_verifier=token_verifier,
        request_state_security=request_state_security,
        extensions=[player.apps_extension(None if delivery is None else delivery.origin)],
        middleware=middleware,
        **live_options,
    )
    _serve_only_what_exists(server)
    if changes is not None:
        _declare_tools_list_changed(server)

    @server.resource(
        "sora://videos/{video_id}",
        name="video-job",
        title="Video job",
        description="A video job's metadata as recorded in the ledger: status, request, cost, files, expiry.",
        mime_type="application/json",
    )
    async def video_job(video_id: str) -> str:
        try:
            record = await service.lookup(video_id)
        except ToolError as exc:
            raise ResourceNotFoundError(exc.info.text()) from None
        view = present(job_view(record, runtime.backend_label), record, delivery)
        return runtime.scrub(json.dumps(view.model_dump(mode="json"), indent=2))

    player_media.register_resources(server, runtime, service)
    return server
