"""The server factory: one `Settings` in, one ready `MCPServer` out (no globals, no import-time work)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp.server.mcpserver.tools.base import Tool

from sora_mcp import __version__
from sora_mcp.errors import ToolError
from sora_mcp.runtime import Runtime
from sora_mcp.settings import Settings
from sora_mcp.tooling import ToolSpec, build_tool
from sora_mcp.tools import catalog_listing, images, validate, videos
from sora_mcp.videos.backend import Backend
from sora_mcp.videos.service import VideoService
from sora_mcp.videos.views import job_view

logger = logging.getLogger("sora_mcp")

SERVER_NAME = "sora-mcp"
INSTRUCTIONS = (
    "Generate videos with Sora-style video APIs without rejected requests or lost results. Start with list_models, "
    "turn any wish into a legal request with validate_params, then create_video; it returns within 45 s with a job "
    "id, and get_video_status waits for it and downloads the MP4. Every result says whether the offline sandbox or "
    "a real provider served it."
)


def tool_specs(runtime: Runtime, service: VideoService) -> list[ToolSpec]:
    return [
        *catalog_listing.specs(runtime),
        *validate.specs(runtime),
        *images.specs(runtime),
        *videos.specs(runtime, service),
    ]


def build_tools(runtime: Runtime, service: VideoService | None = None) -> list[Tool]:
    """Every tool of the server; in read-only mode only those annotated read-only (as github-mcp-server does)."""
    service = service or VideoService(runtime, Backend(runtime))
    tools: list[Tool] = [build_tool(spec, runtime.scrub) for spec in tool_specs(runtime, service)]
    if runtime.settings.read_only:
        tools = [t for t in tools if t.annotations is not None and t.annotations.read_only_hint]
    return tools


def build_server(settings: Settings, runtime: Runtime | None = None) -> MCPServer:
    """Build the server for `settings`. Raises `CatalogError` / `SettingsError` before serving anything."""
    runtime = runtime or Runtime.create(settings)
    service = VideoService(runtime, Backend(runtime))

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[None]:
        try:
            yield None
        finally:
            await service.close()

    server: MCPServer[Any] = MCPServer(
        SERVER_NAME,
        title="Sora video generation",
        instructions=INSTRUCTIONS,
        version=__version__,
        tools=build_tools(runtime, service),
        log_level=settings.log_level,  # type: ignore[arg-type]
        lifespan=lifespan,
    )

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
        return runtime.scrub(json.dumps(job_view(record, runtime.backend_label).model_dump(mode="json"), indent=2))

    return server
