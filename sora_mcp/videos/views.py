"""What the video tools return: one job view, in structured content, and one line telling the agent what next."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from sora_mcp.jobs.ledger import JobRecord
from sora_mcp.videos.delivery import Delivery

NextTool = Literal["get_video_status", "create_video", "download_video", "validate_params", "none"]


class Files(BaseModel):
    video: str | None = None
    thumbnail: str | None = None
    spritesheet: str | None = None


class JobError(BaseModel):
    code: str | None = None
    message: str
    fix: str | None = Field(default=None, description="what to change before trying again")


class VideoJob(BaseModel):
    """One video job as the ledger knows it."""

    video_id: str | None = Field(default=None, description="the provider's id; None until the provider answered")
    job_id: str = Field(description="sora-mcp's own id, assigned before the request was sent")
    kind: str
    status: str = Field(
        description=(
            "creating, unknown (the create's answer was lost; it is being reconciled, never re-sent), queued, "
            "in_progress, completed, failed, create_failed, expired, deleted"
        )
    )
    progress: int
    model: str
    seconds: int
    size: str
    prompt: str
    parent_video_id: str | None = None
    backend: str = Field(description="'sandbox' renders are synthetic; 'provider (<url>)' renders are real")
    profile: str
    estimated_cost_usd: float | None = None
    final_cost_usd: float | None = None
    error: JobError | None = None
    files: Files = Field(default_factory=Files)
    created_at: str
    completed_at: str | None = None
    expires_at: str | None = None
    assets_expired: bool = False
    next_step: str = Field(description="exactly what to call next")
    reused: bool = Field(
        default=False, description="an identical earlier request made this job; it was returned, not paid again"
    )


class VideoList(BaseModel):
    backend: str
    jobs: list[VideoJob]
    spent_today_usd: float = Field(description="billed or reserved today at real providers (failed jobs: 0)")
    daily_budget_usd: float
    sandbox_spent_today_usd: float = Field(description="simulated spend of sandbox renders, counted apart")
    sandbox_daily_budget_usd: float


class DeletedVideo(BaseModel):
    video_id: str
    deleted: bool
    kept_files: list[str] = Field(default_factory=list, description="local files are kept; delete them yourself")


def iso(epoch: float | None) -> str | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")


def next_step(record: JobRecord) -> str:
    vid = record.video_id or record.local_id
    if record.status == "unknown":
        return (
            f"Call get_video_status with video_id '{vid}' in a minute to re-check; do not create it again (an "
            "identical create_video returns this job). Where the provider cannot be searched, the error says what "
            "to check."
        )
    if record.status in ("creating", "queued", "in_progress"):
        return f"Call get_video_status with video_id '{vid}' (it waits up to 45 s per call)."
    if record.status == "completed":
        if record.video_path:
            return "Done: open the MP4 at the path given; remix_video or extend_video can build on it."
        if record.assets_expired():
            return "The provider's download links have expired; create the video again if you need it."
        return f"Call get_video_status with video_id '{vid}' to download the files."
    if record.status in ("failed", "create_failed"):
        return "Change what the error says and call create_video again (validate_params checks a request for free)."
    if record.status == "expired":
        return "The assets expired at the provider; only files already downloaded remain."
    return "Nothing more to do for this job."


def job_view(record: JobRecord, backend: str, fix: str | None = None) -> VideoJob:
    error = None
    if record.error_message or record.error_code:
        error = JobError(code=record.error_code, message=record.error_message or record.error_code or "", fix=fix)
    return VideoJob(
        video_id=record.video_id,
        job_id=record.local_id,
        kind=record.kind,
        status=record.status,
        progress=record.progress,
        model=record.model,
        seconds=record.seconds,
        size=record.size,
        prompt=record.prompt,
        parent_video_id=record.parent_video_id,
        backend=backend,
        profile=record.profile,
        estimated_cost_usd=record.estimated_cost_usd,
        final_cost_usd=record.final_cost_usd,
        error=error,
        files=Files(video=record.video_path, thumbnail=record.thumbnail_path, spritesheet=record.spritesheet_path),
        created_at=iso(record.created_at) or "",
        completed_at=iso(record.completed_at),
        expires_at=iso(record.expires_at),
        assets_expired=record.assets_expired() and record.status in ("completed", "expired"),
        next_step=next_step(record),
    )


def files_for(record: JobRecord, delivery: Delivery | None) -> Files:
    """A job's files as the client reaches them: paths here (no delivery), else the delivery's links."""
    if delivery is None:
        return Files(video=record.video_path, thumbnail=record.thumbnail_path, spritesheet=record.spritesheet_path)
    return Files(
        video=delivery.address(record, "video"),
        thumbnail=delivery.address(record, "thumbnail"),
        spritesheet=delivery.address(record, "spritesheet"),
    )


def present(view: VideoJob, record: JobRecord, delivery: Delivery | None) -> VideoJob:
    """`view` with its files as the client reaches them (`files_for`), and its next step worded for links."""
    if delivery is None or not view.files.model_dump(exclude_none=True):
        return view
    files = files_for(record, delivery)
    next_text = view.next_step.replace("open the MP4 at the path given", "fetch the MP4 from the link given")
    return view.model_copy(update={"files": files, "next_step": next_text})


def fix_for(code: str | None, message: str | None) -> str | None:
    """Advice for the failures agents meet most, in words they can act on."""
    text = f"{code or ''} {message or ''}".lower()
    if "moderation" in text:
        return (
            "The provider's moderation blocked it: remove real people's faces from the reference image and "
            "anything violent, sexual or trademarked from the prompt, then try again."
        )
    if "inpaint image must match" in text:
        return "Fit the reference image to exactly the video size (fit_reference_image, or fit='cover' here)."
    if "too many running tasks" in text or "rate" in text:
        return "The provider limits concurrent jobs: wait for one to finish, then try again."
    return None
