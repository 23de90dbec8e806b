"""`sora-mcp demo`: be the IDE. Spawn `sora-mcp serve` over stdio and walk the story as a real MCP client.

It runs with no configuration at all: the server falls back to the offline sandbox, and every path the
demo touches lives under a temporary or user data directory, never the working directory.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, TextContent


def _text(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def _server_parameters(settings_flags: Mapping[str, str | None]) -> StdioServerParameters:
    from sora_mcp.settings import OPTIONS_BY_NAME

    args = ["-m", "sora_mcp", "serve"]
    for name, value in settings_flags.items():
        if value is not None:
            args += [OPTIONS_BY_NAME[name].flag, value]
    return StdioServerParameters(command=sys.executable, args=args, env=dict(os.environ))


async def _walk(params: StdioServerParameters) -> int:
    async with Client(params, mode="legacy") as client:
        print(
            f"Connected to {client.server_info.name if client.server_info else 'server'} over stdio "
            f"(protocol {client.protocol_version})."
        )
        tools = (await client.list_tools()).tools
        print(f"Tools: {', '.join(t.name for t in tools)}")

        print("\n1. list_models")
        models = await client.call_tool("list_models", {})
        print(_text(models))

        print("\n2. validate_params: 10 seconds on sora-2 (a request the API rejects)")
        verdict = await client.call_tool("validate_params", {"model": "sora-2", "seconds": 10})
        print(_text(verdict))
        structured: dict[str, Any] = verdict.structured_content or {}
        request = structured.get("request") or {}
        print(f"   -> taking the suggestion: {request.get('model')}, {request.get('seconds')} s, {request.get('size')}")
    return 0


def run_demo(settings_flags: Mapping[str, str | None]) -> int:
    return anyio.run(_walk, _server_parameters(settings_flags))
