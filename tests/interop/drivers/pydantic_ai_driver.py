"""pydantic-ai's `MCPToolset(StdioTransport(...))`: `direct_call_tool` on a success and on errors.

On an error result pydantic-ai raises `ModelRetry(message)`; that message is what the model receives, so the
report keeps it verbatim.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pydantic_ai  # type: ignore[import-not-found]
from pydantic_ai.exceptions import ModelRetry  # type: ignore[import-not-found]
from pydantic_ai.mcp import MCPToolset, StdioTransport  # type: ignore[import-not-found]

from tests.interop.drivers.common import emit, scenario


async def main() -> dict[str, Any]:
    s = scenario()
    report: dict[str, Any] = {"client": "pydantic-ai-slim", "version": pydantic_ai.__version__, "calls": {}}
    toolset = MCPToolset(StdioTransport(command=s["command"], args=s["args"], env=s["env"], cwd="/"))
    async with toolset:
        for name, tool, args in s["calls"]:
            entry: dict[str, Any] = {"returned": None, "model_retry": None, "raised": None}
            try:
                entry["returned"] = await toolset.direct_call_tool(tool, args)
            except ModelRetry as exc:
                entry["model_retry"] = exc.message
            except Exception as exc:
                entry["raised"] = f"{type(exc).__name__}: {exc}"
            report["calls"][name] = entry
    return report


if __name__ == "__main__":
    emit(asyncio.run(main()))
