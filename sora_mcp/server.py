"""The server factory: one `Settings` in, one ready `MCPServer` out (no globals, no import-time work)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools.base import Tool

from sora_mcp import __version__
from sora_mcp.runtime import Runtime
from sora_mcp.settings import Settings
from sora_mcp.tooling import ToolSpec, build_tool
from sora_mcp.tools import models, validate

logger = logging.getLogger("sora_mcp")

SERVER_NAME = "sora-mcp"
INSTRUCTIONS = (
    "Generate videos with Sora-style video APIs without rejected requests. Start with list_models, turn any wish "
    "into a legal request with validate_params, and only then create a video. Every result says whether the "
    "offline sandbox or a real provider served it."
)

SpecFactory = Callable[[Runtime], list[ToolSpec]]
TOOL_MODULES: tuple[SpecFactory, ...] = (models.specs, validate.specs)


def build_tools(runtime: Runtime) -> list[Tool]:
    """Every tool of the server; in read-only mode only those annotated read-only (as github-mcp-server does)."""
    tools = [build_tool(spec) for factory in TOOL_MODULES for spec in factory(runtime)]
    if runtime.settings.read_only:
        tools = [t for t in tools if t.annotations is not None and t.annotations.read_only_hint]
    return tools


def build_server(settings: Settings, runtime: Runtime | None = None) -> MCPServer:
    """Build the server for `settings`. Raises `CatalogError` / `SettingsError` before serving anything."""
    runtime = runtime or Runtime.create(settings)
    return MCPServer(
        SERVER_NAME,
        title="Sora video generation",
        instructions=INSTRUCTIONS,
        version=__version__,
        tools=build_tools(runtime),
        log_level=settings.log_level,  # type: ignore[arg-type]
    )
