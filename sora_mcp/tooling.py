"""Turn plain functions into MCP tools whose published schemas are portable and enforced, and build results.

Every tool goes through `build_tool`, so no schema the SDK derives from pydantic (with `$defs`, `oneOf`,
`const`, nullable unions) reaches a client unrewritten; tools that take a (model, seconds, size) request
publish the catalog-generated schema instead. Every call is checked against exactly the published schema
(`contract`), and every failure, deliberate or not, becomes an error result in one place (`error_result`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from mcp.server.mcpserver.exceptions import ToolError as SdkToolError
from mcp.server.mcpserver.tools.base import Tool
from mcp.types import CallToolResult, ContentBlock, TextContent, ToolAnnotations
from pydantic import BaseModel, PrivateAttr, ValidationError

from sora_mcp.contract import ArgumentContract, bound_numbers, first_path, lone_surrogate
from sora_mcp.errors import ErrorInfo, SoraMcpError
from sora_mcp.portable_schema import JsonSchema, make_portable

logger = logging.getLogger(__name__)

CALL_BOUND_SECONDS = 55.0
"""No tool call outlasts this, whatever a provider does: hosts cut calls at about 60 s."""

Explain = Callable[[dict[str, Any], ErrorInfo], ErrorInfo]
"""A tool's own, better explanation of a schema refusal (create_video's nearest legal request)."""

Scrub = Callable[[str], str]


def _no_scrub(text: str) -> str:
    return text


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
    explain: Explain | None = None


class ContractTool(Tool):
    """A tool that enforces its published input schema and turns every failure into an error result."""

    _contract: ArgumentContract | None = PrivateAttr(default=None)
    _explain: Explain | None = PrivateAttr(default=None)
    _scrubbers: tuple[Scrub, ...] = PrivateAttr(default=())

    def configure(self, explain: Explain | None, scrub: Scrub) -> None:
        self._contract = ArgumentContract(self.name, self.parameters)
        self._explain = explain
        self._scrubbers = (scrub,)

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        contract = self._contract or ArgumentContract(self.name, self.parameters)
        refusal = contract.refusal(arguments)
        if refusal is not None:
            if self._explain is not None:
                refusal = self._explain(arguments, refusal)
            logger.info("tool %s refused its arguments: %s", self.name, refusal.param)
            return error_result(refusal, self._scrubbers[0] if self._scrubbers else _no_scrub)
        scrub = self._scrubbers[0] if self._scrubbers else _no_scrub
        unreadable = first_path(arguments, lone_surrogate)
        if unreadable is not None:
            info = ErrorInfo(
                stage="request",
                message=f"'{unreadable}' contains characters that are not valid Unicode text (a lone surrogate).",
                code="invalid_text",
                param=unreadable,
                fix=f"Send {unreadable} as plain UTF-8 text.",
            )
            return error_result(info, scrub)
        try:
            with anyio.fail_after(CALL_BOUND_SECONDS):
                return await super().run(arguments, context, convert_result)
        except SdkToolError as exc:
            return error_result(self._problem(exc.__cause__ or exc), scrub)
        except TimeoutError:
            info = ErrorInfo(
                stage="internal",
                message=f"{self.name} did not finish within {CALL_BOUND_SECONDS:.0f} s.",
                code="call_timeout",
                fix="Call list_videos to see every job this server recorded; get_video_status continues a job.",
            )
            return error_result(info, scrub)

    def _problem(self, cause: BaseException) -> ErrorInfo:
        if isinstance(cause, SoraMcpError):
            return cause.problem()
        if isinstance(cause, ValidationError):  # the schema admitted it; the function's types did not
            fields = sorted({".".join(str(p) for p in e["loc"]) for e in cause.errors()})
            logger.warning("tool %s: schema-valid arguments refused by its signature: %s", self.name, fields)
            return ErrorInfo(
                stage="request",
                message=f"These arguments could not be read: {', '.join(fields)}.",
                code="invalid_value",
                param=fields[0] if fields else None,
                fix="Send the values in the types the tool's input schema gives.",
            )
        logger.error("tool %s failed unexpectedly", self.name, exc_info=cause)
        return ErrorInfo(
            stage="internal",
            message=f"{self.name} failed because of an internal error ({type(cause).__name__}); it was logged.",
            code="internal_error",
            fix="Try again; if it keeps failing, report it with the server's log (stderr).",
        )


def build_tool(spec: ToolSpec, scrub: Scrub = _no_scrub) -> ContractTool:
    base = Tool.from_function(
        spec.fn,
        name=spec.name,
        title=spec.title,
        description=spec.description,
        annotations=spec.annotations.model_copy(update={"title": spec.title}),
    )
    tool = ContractTool.model_validate(base, from_attributes=True)
    tool.parameters = spec.input_schema if spec.input_schema is not None else make_portable(base.parameters)
    tool.parameters.setdefault("additionalProperties", False)
    bound_numbers(tool.parameters)
    if tool.fn_metadata.output_schema is not None:
        tool.fn_metadata.output_schema = make_portable(tool.fn_metadata.output_schema)
    tool.configure(spec.explain, scrub)
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


def error_result(info: ErrorInfo, scrub: Scrub = _no_scrub) -> CallToolResult:
    """The one way a failure leaves a tool: readable text, then the same as JSON; never `structuredContent`.

    `structuredContent` must match the output schema, and the TypeScript SDK checks it even on errors.
    """
    data = json.loads(scrub(info.model_dump_json(exclude_none=True)))
    return CallToolResult(
        content=[
            TextContent(type="text", text=scrub(info.text())),
            TextContent(type="text", text=json.dumps(data, ensure_ascii=False)),
        ],
        is_error=True,
    )
