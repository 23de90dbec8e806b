"""OpenRouter's video API (`POST /api/v1/videos`; facts in video-dialects.md §1).

Create: JSON only; integer `duration`; `size`, or `resolution` + `aspect_ratio` for models the catalog spells
that way (never both); `frame_images` as data: URLs with `frame_type`; `generate_audio` and `seed` only where
the model's flag is true. Answers: 202 on create; statuses pending/in_progress/completed/failed/cancelled/
expired; no progress, created_at, model, seconds or size; `polling_url` absolute or relative; `usage.cost` in
USD; `error` a plain string. Content: `GET /videos/{id}/content?index=0` with the bearer header. No list,
delete, remix or extension, and no thumbnail or spritesheet (derived from the MP4).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from sora_mcp.dialects.base import (
    ContentRequest,
    Dialect,
    JobSnapshot,
    Unusable,
    VideoRequest,
    VideoVariant,
    WireBody,
    check_id,
    created_time,
    data_url,
    int_or_none,
    job_error,
    kind,
    money_or_none,
    show,
    status_of,
    text,
)

if TYPE_CHECKING:
    from sora_mcp.catalog import ModelSpec

TERMINAL_MESSAGES = {
    "cancelled": ("cancelled", "The provider cancelled the job."),
    "canceled": ("cancelled", "The provider cancelled the job."),
    "expired": ("expired", "The job exceeded the provider's maximum time to live before it finished."),
}


class OpenRouterDialect(Dialect):
    name: ClassVar[str] = "openrouter"
    can_list: ClassVar[bool] = False
    can_delete: ClassVar[bool] = False
    can_remix: ClassVar[bool] = False
    can_extend: ClassVar[bool] = False
    has_variants: ClassVar[bool] = False
    has_progress: ClassVar[bool] = False
    create_status: ClassVar[tuple[int, ...]] = (200, 201, 202)

    def create_body(self, request: VideoRequest, model: ModelSpec | None) -> WireBody:
        body: dict[str, Any] = {"model": request.model, "prompt": request.prompt, "duration": int(request.seconds)}
        frame = model.frame(request.size) if model is not None else None
        if frame is not None:
            body["resolution"] = frame.resolution
            body["aspect_ratio"] = frame.aspect_ratio
        else:
            body["size"] = request.size
        frames = [
            {"type": "image_url", "image_url": {"url": data_url(image)}, "frame_type": frame_type}
            for frame_type, image in (("first_frame", request.first_frame), ("last_frame", request.last_frame))
            if image is not None
        ]
        if frames:
            body["frame_images"] = frames
        if model is not None and model.audio == "optional":
            # Always said: OpenRouter's default is the endpoint's flag (on for Veo and Wan), and the price was
            # estimated for exactly what is asked, so "not given" must reach the wire as "no audio".
            body["generate_audio"] = bool(request.audio)
        if model is not None and model.seed and request.seed is not None:
            body["seed"] = int(request.seed)
        return WireBody(json=body)

    def parse_job(
        self, data: object, *, secrets: Iterable[str] = (), poll_after: float | None = None, now: float | None = None
    ) -> JobSnapshot:
        if not isinstance(data, dict):
            raise Unusable(f"expected a JSON object, got {kind(data)}")
        secrets = tuple(secrets)
        video_id = check_id(data.get("id"), secrets)
        lowered, status = status_of(data.get("status"))
        polling_url = data.get("polling_url")
        if polling_url is not None and not isinstance(polling_url, str):
            raise Unusable(f"'polling_url' is {kind(polling_url)}, not a string")
        if isinstance(polling_url, str) and video_id not in polling_url:
            raise Unusable(f"'polling_url' {show(polling_url, 80)} does not name job {show(video_id)}")
        error_code, error_message = job_error(data.get("error"), secrets)
        if lowered in TERMINAL_MESSAGES:
            code, message = TERMINAL_MESSAGES[lowered]
            error_code, error_message = error_code or code, error_message or message
            status = "failed"  # an expired OpenRouter job never finished: nothing to download
        usage = data.get("usage")
        cost = money_or_none(usage.get("cost")) if isinstance(usage, dict) else None
        created_at, known = created_time(data, now)
        return JobSnapshot(
            id=video_id,
            status=status,
            progress=100 if status == "completed" else 0,
            model=text(data.get("model"), secrets, 200) or "",
            seconds=int_or_none(data.get("duration")) or 0,
            size=text(data.get("size"), secrets, 50) or "",
            prompt=None,
            created_at=created_at,
            completed_at=int_or_none(data.get("completed_at")),
            expires_at=None,
            error_code=error_code,
            error_message=error_message,
            remixed_from_video_id=None,
            poll_after_ms=poll_after,
            created_at_known=known,
            cost_usd=cost,
        )

    def content(self, variant: VideoVariant) -> ContentRequest:
        return ContentRequest(variant=None, query={"index": 0})
