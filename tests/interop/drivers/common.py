"""What every driver shares: read the scenario file, describe a result, print one JSON line.

Drivers run as `python -m tests.interop.drivers.NAME` with the repository on PYTHONPATH; this uses the standard
library only.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def scenario() -> dict[str, Any]:
    with open(sys.argv[1], encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def texts_of(content: Any) -> list[str]:
    """The text blocks of an MCP result's content (objects with .type/.text, or dicts)."""
    out: list[str] = []
    for block in content or []:
        kind = block.get("type") if isinstance(block, dict) else getattr(block, "type", None)
        text = block.get("text") if isinstance(block, dict) else getattr(block, "text", None)
        if kind == "text" and isinstance(text, str):
            out.append(text)
    return out


def outcome(is_error: Any, content: Any, structured: Any, thrown: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "isError": is_error,
        "texts": texts_of(content),
        "structured": structured,
        "thrown": thrown,
        **extra,
    }


def thrown(exc: BaseException) -> dict[str, Any]:
    return outcome(None, [], None, f"{type(exc).__name__}: {exc}")


def emit(report: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(report, default=str) + "\n")
    sys.stdout.flush()


def fill(value: Any, results: dict[str, Any]) -> Any:
    """Replace "{{step.field}}" strings by that field of an earlier step's structured content."""
    if isinstance(value, str) and value.startswith("{{") and value.endswith("}}"):
        step, _, field = value[2:-2].partition(".")
        structured = (results.get(step) or {}).get("structured") or {}
        if field not in structured:
            raise KeyError(f"{value}: step {step!r} has no {field!r} in its structured content")
        return structured[field]
    if isinstance(value, list):
        return [fill(v, results) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, results) for k, v in value.items()}
    return value


def field(obj: Any, *names: str) -> Any:
    """The first attribute that exists: MCP SDK 2.x spells fields in snake_case, 1.x in camelCase."""
    for name in names:
        if hasattr(obj, name):
            return getattr(obj, name)
    return None


def mcp_result(result: Any, **extra: Any) -> dict[str, Any]:
    """The outcome of an MCP `CallToolResult` of either SDK generation."""
    return outcome(
        bool(field(result, "is_error", "isError")),
        field(result, "content"),
        field(result, "structured_content", "structuredContent"),
        **extra,
    )
