"""Turn plain functions into MCP tools whose published schemas are portable, and build their results.

Every tool goes through `build_tool`, so no schema the SDK derives from pydantic (with `$defs`, `oneOf`,
`const`, nullable unions) reaches a client unrewritten, and tools that take a (model, seconds, size)
request can publish the catalog-generated schema instead of the derived one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver.tools.base import Tool
from mcp.types import CallToolResult, ContentBlock, TextContent, ToolAnnotations
from pydantic import BaseModel

from sora_mcp.portable_schema import JsonSchema, make_portable


@dataclass(frozen=True)
class ToolSpec:
    """What the server publishes about one tool besides its function."""

    fn: Callable[..., Any]
    name: str
    title: str
    description: str
    annotations: ToolAnnotations
    input_schema: JsonSchema | None = None
    """A schema to publish instead of the one derived from the function (already portable)."""


def build_tool(spec: ToolSpec) -> Tool:
    tool = Tool.from_function(
        spec.fn,
        name=spec.name,
        title=spec.title,
        description=spec.description,
        annotations=spec.annotations.model_copy(update={"title": spec.title}),
    )
    tool.parameters = spec.input_schema if spec.input_schema is not None else make_portable(tool.parameters)
    if tool.fn_metadata.output_schema is not None:
        tool.fn_metadata.output_schema = make_portable(tool.fn_metadata.output_schema)
    return tool


def hints(*, read_only: bool, destructive: bool = False, idempotent: bool, open_world: bool) -> ToolAnnotations:
    """All four hints, always: clients treat a missing hint as the unsafe default."""
    return ToolAnnotations(
        read_only_hint=read_only,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=open_world,
    )


def ok(text: str, structured: BaseModel, extra: Sequence[ContentBlock] = ()) -> CallToolResult:
    """A result: one readable line for the model, the data for programs, then any images or links."""
    return CallToolResult(
        content=[TextContent(type="text", text=text), *extra],
        structured_content=structured.model_dump(mode="json", by_alias=True, exclude_none=True),
    )


def fail(text: str, structured: BaseModel | None = None) -> CallToolResult:
    """An error the agent can act on: `is_error` with the reason in text and, when useful, as data."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=(
            structured.model_dump(mode="json", by_alias=True, exclude_none=True) if structured is not None else None
        ),
        is_error=True,
    )
