"""The one exception tree of sora-mcp, and the one shape a tool-level problem takes on its way to the agent.

Every deliberate failure is a `SoraMcpError`. `ToolError` is what a tool raises when it cannot do what was
asked; `tooling` turns it into an `isError` result in exactly one place. Other `SoraMcpError`s (provider,
ledger, image input, settings) carry a `problem()` so that the same conversion shows them; anything else is a
bug, logged with its traceback and shown as an internal error with a fix.

Why errors carry no `structuredContent`: the TypeScript SDK (and every host built on it) validates
`structuredContent` against the tool's `outputSchema` even on `isError` results, so a failure object that
is not a job is thrown away as `-32602`. The MCP specification ties `structuredContent` to the output
schema and says tool errors belong in the result's content with `isError`, so the text carries everything
(message, parameter, legal values, fix) and a second text block carries the same as JSON for programs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

ErrorStage = Literal["arguments", "request", "image", "budget", "provider", "job", "storage", "internal"]
"""Where a call stopped: `arguments` means the published input schema refused it, before any work."""


class ErrorInfo(BaseModel):
    """What went wrong and what to do, as the agent receives it (text and JSON)."""

    stage: ErrorStage
    message: str
    code: str | None = None
    param: str | None = Field(default=None, description="the argument (JSON path) that was wrong")
    legal_values: list[Any] | None = Field(default=None, description="the values the parameter accepts")
    fix: str | None = Field(default=None, description="the one step that makes the call succeed")
    nearest_request: dict[str, Any] | None = Field(default=None, description="validate_params' nearest legal request")
    job: dict[str, Any] | None = Field(default=None, description="the job this concerns, when one exists")
    provider_error: dict[str, Any] | None = Field(default=None, description="the provider's own error body")

    def text(self) -> str:
        """The readable form: message, legal values, fix and job, in sentences a model acts on."""
        parts = [self.message.rstrip()]
        if self.legal_values:
            parts.append(
                "Legal values: " + ", ".join(repr(v) if isinstance(v, str) else str(v) for v in self.legal_values) + "."
            )
        if self.nearest_request:
            parts.append(
                "Nearest legal request: " + ", ".join(f"{k}={v!r}" for k, v in self.nearest_request.items()) + "."
            )
        if self.fix:
            parts.append("Fix: " + self.fix.rstrip())
        if self.job:
            job_id = self.job.get("video_id") or self.job.get("job_id")
            parts.append(f"(job {job_id}, status {self.job.get('status')})")
        return " ".join(parts)


class SoraMcpError(Exception):
    """Root of every deliberate sora-mcp failure."""

    stage: ErrorStage = "internal"
    code: str | None = None

    def problem(self) -> ErrorInfo:
        """How the agent sees this failure; subclasses with more to say override it."""
        return ErrorInfo(stage=self.stage, message=str(self), code=self.code)


class ToolError(SoraMcpError):
    """A tool cannot do what was asked; `info` says why and how to fix it."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(info.message)
        self.info = info

    @classmethod
    def of(
        cls,
        stage: ErrorStage,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        legal_values: list[Any] | None = None,
        fix: str | None = None,
        nearest_request: dict[str, Any] | None = None,
        job: dict[str, Any] | None = None,
        provider_error: dict[str, Any] | None = None,
    ) -> ToolError:
        return cls(
            ErrorInfo(
                stage=stage,
                message=message,
                code=code,
                param=param,
                legal_values=legal_values,
                fix=fix,
                nearest_request=nearest_request,
                job=job,
                provider_error=provider_error,
            )
        )

    def problem(self) -> ErrorInfo:
        return self.info
