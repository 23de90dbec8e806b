"""Where a job is in its life at a given moment, and the Video object the API shows for it.

Status is computed from the clock rather than advanced by a timer: nothing to schedule, nothing to race,
and a test with a small time scale sees exactly the sequence a client of the real API sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sora_mcp.api_errors import OUTPUT_MODERATION

SandboxStatus = Literal["queued", "in_progress", "completed", "failed"]
QUEUED_FRACTION = 0.1
"""The first tenth of a job's time is spent queued, as a real provider's queue would show."""

RENDER_FAILED = "The sandbox could not render this video."


@dataclass(frozen=True)
class Failure:
    code: str
    message: str


MODERATION_FAILURE = Failure(code="moderation_blocked", message=OUTPUT_MODERATION)
CANCELLED_FAILURE = Failure(code="cancelled", message="Job was cancelled")
"""OpenRouter's `cancelled` end (its webhook example's wording); shown as `failed` by the OpenAI dialects."""
EXPIRED_FAILURE = Failure(code="expired", message="Job exceeded maximum time to live")
"""OpenRouter's `expired` end (its webhook example's wording)."""


@dataclass(frozen=True)
class Phase:
    status: SandboxStatus
    progress: int
    completed_at: float | None
    error: Failure | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed")


def phase_at(
    now: float, created_at: float, duration: float, rendered_at: float | None, failure: Failure | None
) -> Phase:
    """The job's phase at `now`.

    A job is done `duration` seconds after creation, but never before its render finished (`rendered_at`;
    a job refused by moderation is "rendered" at creation). It then ends `failed` if it has a `failure`,
    else `completed`. Progress rises with time from 1 to 99 while in progress and is 100 only once completed.
    """
    if rendered_at is not None:
        done_at = max(created_at + duration, rendered_at)
        if now >= done_at:
            return Phase("failed", 0, done_at, failure) if failure else Phase("completed", 100, done_at)
    elapsed = now - created_at
    if duration > 0 and elapsed < QUEUED_FRACTION * duration:
        return Phase("queued", 0, None)
    percent = elapsed * 100 / duration if duration > 0 else 100.0
    return Phase("in_progress", max(1, min(99, int(percent + 1e-9))), None)


def video_object(
    *,
    video_id: str,
    model: str,
    prompt: str,
    seconds: int,
    size: str,
    created_at: float,
    phase: Phase,
    asset_ttl_seconds: float,
    remixed_from_video_id: str | None,
    purged_at: float | None = None,
) -> dict[str, Any]:
    """The Video resource exactly as the contract shows it: `seconds` is a string, times are whole seconds.

    `purged_at` is when the sandbox removed the files early (its storage bound): they expired then.
    """
    completed_at = phase.completed_at
    expires_at = completed_at + asset_ttl_seconds if completed_at is not None and phase.status == "completed" else None
    if expires_at is not None and completed_at is not None and purged_at is not None:
        expires_at = min(expires_at, max(completed_at, purged_at))
    return {
        "id": video_id,
        "object": "video",
        "created_at": int(created_at),
        "status": phase.status,
        "model": model,
        "progress": phase.progress,
        "prompt": prompt,
        "seconds": str(seconds),
        "size": size,
        "completed_at": int(completed_at) if completed_at is not None else None,
        "expires_at": int(expires_at) if expires_at is not None else None,
        "error": {"code": phase.error.code, "message": phase.error.message} if phase.error else None,
        "remixed_from_video_id": remixed_from_video_id,
    }
