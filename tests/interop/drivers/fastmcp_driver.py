"""fastmcp's `Client` over stdio: list tools, a success parsed through the output schema, an error."""

from __future__ import annotations

import asyncio
from typing import Any

import fastmcp  # type: ignore[import-not-found]
from fastmcp import Client
from fastmcp.client.transports import StdioTransport  # type: ignore[import-not-found]

from tests.interop.drivers.common import emit, outcome, scenario, thrown


async def main() -> dict[str, Any]:
    s = scenario()
    report: dict[str, Any] = {"client": "fastmcp", "version": fastmcp.__version__}
    transport = StdioTransport(command=s["command"], args=s["args"], env=s["env"], cwd="/")
    async with Client(transport, timeout=60) as client:
        report["protocol_version"] = getattr(client.initialize_result, "protocolVersion", None)
        report["tools"] = [t.name for t in await client.list_tools()]
        for name, tool, args in s["calls"]:
            try:
                result = await client.call_tool(tool, args, raise_on_error=False)
            except Exception as exc:
                report[name] = thrown(exc)
                continue
            data = result.data
            report[name] = outcome(
                result.is_error,
                result.content,
                result.structured_content,
                data_type=type(data).__name__ if data is not None else None,
                data_fields=sorted(vars(data)) if hasattr(data, "__dict__") else None,
                data_probe={k: repr(getattr(data, k, None)) for k in s.get("probe", {}).get(name, [])},
            )
    return report


if __name__ == "__main__":
    emit(asyncio.run(main()))
