"""The OpenAI Videos API wire (retired by OpenAI on 2026-09-24; still what the Sora profiles and LiteLLM speak).

Create is multipart (as the official SDK sends it): `model`, `prompt`, `seconds` (a string), `size`, and one
`input_reference` file for the first frame. The job object carries `progress`, `seconds`, `size`, `model`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar, cast

from sora_mcp.dialects.base import (
    Dialect,
    JobSnapshot,
    Unusable,
    VideoRequest,
    WireBody,
    check_id,
    created_time,
    id_problem,
    int_or_none,
    job_error,
    kind,
    progress,
    status_of,
    text,
)

if TYPE_CHECKING:
    from sora_mcp.catalog import ModelSpec


def parse_job(
    data: object,
    *,
    secrets: Iterable[str] = (),
    poll_after: float | None = None,
    now: float | None = None,
) -> JobSnapshot:
    """A `JobSnapshot` from a decoded JSON video object, tolerant of everything but a missing id or status.

    Raises `Unusable` (code `unusable_answer` or `unsafe_id`). Progress is clamped to 0..100 (bad: 0);
    `seconds` bad: 0; `created_at` missing or bad: `now` (wall clock), with `created_at_known=False`.
    """
    if not isinstance(data, dict):
        raise Unusable(f"expected a JSON object, got {kind(data)}")
    secrets = tuple(secrets)
    video_id = check_id(data.get("id"), secrets)
    lowered, status = status_of(data.get("status"))
    parent = data.get("remixed_from_video_id")
    if parent is not None:
        problem = id_problem(parent)
        if problem is not None:
            raise Unusable(f"'remixed_from_video_id' is not safe to use: {problem}", "unsafe_id")
    error_code, error_message = job_error(data.get("error"), secrets)
    if lowered in ("cancelled", "canceled"):
        error_code = error_code or "cancelled"
        error_message = error_message or "The provider cancelled the job."
    created_at, known = created_time(data, now)
    return JobSnapshot(
        id=video_id,
        status=status,
        progress=progress(data.get("progress")),
        model=text(data.get("model"), secrets, 200) or "",
        seconds=int_or_none(data.get("seconds")) or 0,
        size=text(data.get("size"), secrets, 50) or "",
        prompt=text(data.get("prompt"), secrets, 32000),
        created_at=created_at,
        completed_at=int_or_none(data.get("completed_at")),
        expires_at=int_or_none(data.get("expires_at")),
        error_code=error_code,
        error_message=error_message,
        remixed_from_video_id=cast("str | None", parent),
        poll_after_ms=poll_after,
        created_at_known=known,
    )


def wire_seconds(request: VideoRequest, model: ModelSpec | None) -> str:
    """The length as the form sends it (multipart is text either way)."""
    return str(request.seconds)


class OpenAIDialect(Dialect):
    name: ClassVar[str] = "openai"

    def create_body(self, request: VideoRequest, model: ModelSpec | None) -> WireBody:
        form = {
            "model": request.model,
            "prompt": request.prompt,
            (model.duration_param if model is not None else "seconds"): wire_seconds(request, model),
            "size": request.size,
        }
        files = () if request.first_frame is None else (("input_reference", request.first_frame),)
        return WireBody(form=form, files=files)

    def parse_job(
        self, data: object, *, secrets: Iterable[str] = (), poll_after: float | None = None, now: float | None = None
    ) -> JobSnapshot:
        return parse_job(data, secrets=secrets, poll_after=poll_after, now=now)
