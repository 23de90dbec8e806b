"""langchain-mcp-adapters' `MultiServerMCPClient`, both ways it is used.

`per_call`: the default `get_tools()`, whose tools start a new server process for every call.
`session`: `async with client.session(name)` + `load_mcp_tools(session)`, one server for all calls.
Each tool is invoked as an agent's tool call, so the result is the `ToolMessage` the model would get.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
from typing import Any

from langchain_mcp_adapters.client import MultiServerMCPClient  # type: ignore[import-not-found]
from langchain_mcp_adapters.tools import load_mcp_tools  # type: ignore[import-not-found]

from tests.interop.drivers.common import emit, fill, scenario

SERVER = "sora"


async def _invoke(tools: dict[str, Any], tool: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    try:
        message = await tools[tool].ainvoke({"type": "tool_call", "id": call_id, "name": tool, "args": args})
    except Exception as exc:
        return {"isError": None, "texts": [], "structured": None, "thrown": f"{type(exc).__name__}: {exc}"}
    content = message.content
    texts = [content] if isinstance(content, str) else [b.get("text", "") for b in content if isinstance(b, dict)]
    artifact = getattr(message, "artifact", None)
    structured = artifact.get("structured_content") if isinstance(artifact, dict) else None
    return {
        "isError": getattr(message, "status", None) == "error",
        "texts": [t for t in texts if t],
        "structured": structured,
        "thrown": None,
    }


async def _run(tools: dict[str, Any], steps: list[list[Any]], prefix: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for step_id, tool, args, *until in steps:
        try:
            filled = fill(args, results)
        except KeyError as exc:
            results[step_id] = {"isError": None, "texts": [], "structured": None, "thrown": f"driver: {exc}"}
            continue
        for attempt in range(10 if until else 1):
            results[step_id] = await _invoke(tools, tool, filled, f"{prefix}-{step_id}-{attempt}")
            status = (results[step_id].get("structured") or {}).get("status")
            if not until or status in until[0] or results[step_id]["thrown"]:
                break
    return results


async def main() -> dict[str, Any]:
    s = scenario()
    connection = {"command": s["command"], "args": s["args"], "env": s["env"], "transport": "stdio"}
    report: dict[str, Any] = {
        "client": "langchain-mcp-adapters",
        "version": importlib.metadata.version("langchain-mcp-adapters"),
        "mcp": importlib.metadata.version("mcp"),
    }
    client = MultiServerMCPClient({SERVER: connection})
    per_call = {t.name: t for t in await client.get_tools()}
    report["per_call_tools"] = sorted(per_call)
    report["per_call"] = await _run(per_call, s["steps"], "per-call")
    async with client.session(SERVER) as session:
        in_session = {t.name: t for t in await load_mcp_tools(session)}
        report["session_tools"] = sorted(in_session)
        report["session"] = await _run(in_session, s["session_steps"], "session")
    return report


if __name__ == "__main__":
    emit(asyncio.run(main()))
