"""The one error type of the imaging package: something the caller can fix, named with its limit."""

from __future__ import annotations

from sora_mcp.errors import ErrorInfo, ErrorStage, SoraMcpError


class ImageInputError(SoraMcpError, ValueError):
    """An input or request that cannot be fitted; the message names the problem, the limit and the fix.

    A `SoraMcpError`, so a tool may let it propagate and the agent sees the message as the tool's error; still
    a `ValueError` for callers (CLI, batch) that catch it as one.
    """

    stage: ErrorStage = "image"
    code: str | None = "invalid_image"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        """The request field at fault (`crop.left`, `quality`, ...); None for the image itself, whose argument
        name is the caller's (`image`, `reference_image`). The message already says how to fix it."""

    def problem(self) -> ErrorInfo:
        return ErrorInfo(stage=self.stage, message=str(self), code=self.code, param=self.param)
