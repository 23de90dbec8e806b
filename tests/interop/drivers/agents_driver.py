"""The OpenAI Agents SDK's `MCPServerStdio` with its defaults (5 s client session timeout).

Part 1 (`retry`): call create_video as an agent would (required arguments only), retry the identical call as
an agent does after a timeout, count the jobs, then poll get_video_status with default arguments.
Part 2 (`strict`): convert every tool schema to strict mode exactly as the SDK does for an agent with
`convert_schemas_to_strict=True` (no fallback allowed), and call each tool with every optional argument set
to the placeholder a strict-mode model has to send.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from typing import Any

import agents  # type: ignore[import-not-found]
from agents.mcp import MCPServerStdio, MCPUtil  # type: ignore[import-not-found]
from agents.strict_schema import ensure_strict_json_schema  # type: ignore[import-not-found]

from tests.interop.drivers.common import emit, field, fill, mcp_result, scenario, thrown


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def _call(server: Any, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        result = await server.call_tool(tool, args)
    except Exception as exc:
        return {**thrown(exc), "seconds": round(time.monotonic() - started, 2)}
    return mcp_result(result, seconds=round(time.monotonic() - started, 2))


def placeholder(schema: dict[str, Any]) -> Any:
    """What a strict-mode model sends for an argument it does not want to give."""
    if "enum" in schema:
        values = schema["enum"]
        return "" if "" in values else 0 if 0 in values else values[0]
    for key in ("anyOf", "oneOf"):
        if key in schema and not schema.get("properties"):
            return placeholder(schema[key][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "string":
        return "x" * int(schema.get("minLength", 0))
    if kind in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is None or low <= 0) and (high is None or high >= 0):
            return 0
        return low if low is not None else high
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object" or "properties" in schema:
        return {name: placeholder(sub) for name, sub in schema.get("properties", {}).items()}
    return ""


def strict_arguments(schema: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Every property the strict schema requires: the given value if any, else its placeholder."""
    args = placeholder(schema)
    assert isinstance(args, dict)
    args.update(given)
    return args


async def retry_part(s: dict[str, Any]) -> dict[str, Any]:
    part: dict[str, Any] = {}
    async with MCPServerStdio(params={"command": s["command"], "args": s["args"], "env": s["env"]}) as server:
        part["timeout_seconds"] = server.client_session_timeout_seconds
        args = s["create_args"]
        part["first"] = await _call(server, "create_video", args)
        part["retry"] = await _call(server, "create_video", args)
        listing = await _call(server, "list_videos", {})
        part["list"] = listing
        jobs = (listing.get("structured") or {}).get("jobs", [])
        mine = [j for j in jobs if j.get("prompt") == args["prompt"]]
        part["jobs_with_prompt"] = len(mine)
        video_id = next((j.get("video_id") for j in mine if j.get("video_id")), None)
        polls: list[dict[str, Any]] = []
        for _ in range(s.get("max_polls", 12)):
            if video_id is None:
                break
            poll = await _call(server, "get_video_status", {"video_id": video_id})
            polls.append(poll)
            if (poll.get("structured") or {}).get("status") in ("completed", "failed", "expired"):
                break
        part["polls"] = polls
    return part


async def strict_part(s: dict[str, Any]) -> dict[str, Any]:
    capture = _Capture()
    sdk_logger = logging.getLogger("openai.agents")
    sdk_logger.addHandler(capture)
    sdk_logger.setLevel(logging.INFO)
    part: dict[str, Any] = {"schemas": {}, "calls": {}}
    async with MCPServerStdio(params={"command": s["command"], "args": s["args"], "env": s["env"]}) as server:
        tools = await server.list_tools()
        strict: dict[str, dict[str, Any]] = {}
        for tool in tools:
            entry: dict[str, Any] = {}
            try:
                direct = ensure_strict_json_schema(
                    copy.deepcopy(field(tool, "input_schema", "inputSchema")), _reject_open_objects=True
                )
                entry["direct"] = None
            except Exception as exc:
                direct = None
                entry["direct"] = f"{type(exc).__name__}: {exc}"
            function_tool = MCPUtil.to_function_tool(tool, server, convert_schemas_to_strict=True)
            entry["sdk_strict"] = bool(function_tool.strict_json_schema)
            strict[tool.name] = function_tool.params_json_schema if function_tool.strict_json_schema else direct or {}
            entry["schema"] = strict[tool.name]
            part["schemas"][tool.name] = entry
        part["sdk_log"] = capture.messages
        results: dict[str, Any] = {}
        for step_id, tool_name, given in s["strict_calls"]:
            try:
                args = strict_arguments(strict.get(tool_name, {}), fill(given, results))
            except Exception as exc:
                results[step_id] = thrown(exc)
                continue
            results[step_id] = {**(await _call(server, tool_name, args)), "args": args}
            until = s.get("until", {}).get(step_id)
            video_id = (results[step_id].get("structured") or {}).get("video_id")
            if until is not None and video_id:
                for _ in range(10):
                    done = await _call(server, "get_video_status", {"video_id": video_id, "wait_seconds": 3})
                    results[f"{step_id}_done"] = done
                    if (done.get("structured") or {}).get("status") in until:
                        break
        part["calls"] = results
    return part


async def main() -> dict[str, Any]:
    s = scenario()
    report: dict[str, Any] = {"client": "openai-agents", "version": agents.__version__}
    report["retry"] = await retry_part(s["retry"])
    report["strict"] = await strict_part(s["strict"])
    return report


if __name__ == "__main__":
    emit(asyncio.run(main()))
