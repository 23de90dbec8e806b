"""The video job tools: create_video, get_video_status, list_videos, download_video, remix, extend, delete.

Thin by design: arguments (already admitted by the published schema) → `VideoService` → a view. Each
result is the job as structured content plus one line saying exactly what to call next; every refusal is
a `ToolError` raised by the service and shown by `tooling` in one place.
"""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio.to_thread
from mcp.server.mcpserver import Context, Resolve
from mcp.types import CallToolResult, ContentBlock, ImageContent, ListRootsResult, ResourceLink
from pydantic import Field

from sora_mcp.api_errors import invalid_seconds_type, invalid_value, reference_size_mismatch
from sora_mcp.errors import ErrorInfo, ToolError
from sora_mcp.jobs.ledger import JobRecord
from sora_mcp.request_schema import (
    IDEMPOTENCY_DESCRIPTION,
    IDEMPOTENCY_KEY_MAX_CHARS,
    WAIT_DESCRIPTION,
    VideoSpec,
    create_video_schema,
)
from sora_mcp.runtime import Runtime
from sora_mcp.tooling import ToolSpec, hints, ok
from sora_mcp.tools.images import allowed_input_dirs, client_roots
from sora_mcp.validation import Wish, check
from sora_mcp.videos.delivery import Delivery
from sora_mcp.videos.service import DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS, Progress, VideoService
from sora_mcp.videos.views import DeletedVideo, VideoJob, VideoList, fix_for, job_view, present

logger = logging.getLogger(__name__)

THUMBNAIL_LIMIT_BYTES = 200_000
FitChoice = Literal["cover", "pad", "stretch", "none"]
Variant = Literal["video", "thumbnail", "spritesheet"]


def progress_reporter(ctx: Context) -> Progress:
    """Forward progress only upward: clients require strictly increasing values (and ignore the rest)."""
    last = -1.0

    async def report(percent: float, message: str) -> None:
        nonlocal last
        if percent > last:
            last = percent
            await ctx.report_progress(percent, 100.0, message)

    return report


def _thumbnail_content(path: str | None) -> list[ContentBlock]:
    """The thumbnail as an image the agent can see, downscaled to stay small; a broken one is left out."""
    if path is None or not Path(path).is_file():
        return []
    try:
        data = Path(path).read_bytes()
        mime = "image/webp" if path.endswith(".webp") else "image/jpeg" if path.endswith(".jpg") else "image/png"
        if len(data) > THUMBNAIL_LIMIT_BYTES:
            from PIL import Image

            with Image.open(io.BytesIO(data)) as image:
                small = image.convert("RGB")
                small.thumbnail((480, 480))
                buffer = io.BytesIO()
                small.save(buffer, "JPEG", quality=80)
            data, mime = buffer.getvalue(), "image/jpeg"
    except Exception as exc:  # a bonus image never breaks a status answer
        logger.warning("thumbnail %s left out of the result: %s", path, exc)
        return []
    return [ImageContent(type="image", data=base64.b64encode(data).decode(), mime_type=mime)]


def _links(record: JobRecord, delivery: Delivery | None) -> list[ContentBlock]:
    links: list[ContentBlock] = []
    shown: tuple[tuple[Variant, str | None, str], ...] = (
        ("video", record.video_path, "video/mp4"),
        ("spritesheet", record.spritesheet_path, "image/jpeg"),
    )
    for variant, path, mime in shown:
        if path:
            uri = Path(path).as_uri() if delivery is None else delivery.address(record, variant)
            links.append(ResourceLink(type="resource_link", uri=uri or "", name=Path(path).name, mime_type=mime))
    return links


def _job_text(view: VideoJob, notes: list[str]) -> str:
    vid = view.video_id or view.job_id
    cost = f"${view.estimated_cost_usd:.2f}" if view.estimated_cost_usd is not None else "unknown cost"
    lines = [*notes] if view.reused else []
    lines.append(
        f"Video {vid} [{view.backend}]: {view.status} {view.progress}% — "
        f"{view.model}, {view.seconds} s, {view.size}, {cost}."
    )
    if view.files.video:
        lines.append(f"MP4: {view.files.video}")
        lines.append(f"Thumbnail: {view.files.thumbnail}  Spritesheet: {view.files.spritesheet}")
    lines += [n for n in notes if not view.reused or n not in lines]
    if view.error is not None:
        lines.append(f"Error: {view.error.message}" + (f" Fix: {view.error.fix}" if view.error.fix else ""))
    if view.assets_expired and not view.files.video:
        lines.append("The provider's download links have expired.")
    lines.append(f"Next: {view.next_step}")
    return "\n".join(lines)


class VideoTools:
    """The tools share one `VideoService`; the backend behind it starts on first use."""

    def __init__(self, runtime: Runtime, service: VideoService, delivery: Delivery | None = None) -> None:
        self.runtime = runtime
        self.service = service
        self.delivery = delivery

    def _result(self, record: JobRecord, *, reused: bool = False) -> CallToolResult:
        view = job_view(record, self.service.label(), fix_for(record.error_code, record.error_message))
        view = present(view, record, self.delivery)
        view.reused = reused
        if record.status in ("failed", "create_failed"):
            raise ToolError(
                ErrorInfo(
                    stage="job",
                    message=f"Video {view.video_id or view.job_id} failed: {view.error.message if view.error else ''}",
                    code=record.error_code,
                    fix=(view.error.fix if view.error else None) or view.next_step,
                    job=view.model_dump(mode="json", exclude_none=True),
                )
            )
        notes = self.service.asset_problems(record)
        if reused:
            notes.insert(
                0,
                f"An identical request made this job at {view.created_at}: it is returned instead of paying again. "
                "For a deliberate second take, pass a new idempotency_key.",
            )
        extra = (
            [*_thumbnail_content(record.thumbnail_path), *_links(record, self.delivery)] if record.video_path else []
        )
        return ok(_job_text(view, notes), view, extra)

    async def _reference(
        self, image: str, size: str, fit: FitChoice, roots: ListRootsResult | None, param: str = "reference_image"
    ) -> tuple[tuple[str, bytes, str], Path]:
        """An input image (the first frame, or the last) fitted to exactly `size`; refusals name `param`."""
        from sora_mcp.imaging import FitMode, FitRequest, ImageInputError, fit_image, read_image_input, reference_dir
        from sora_mcp.sizes import Size

        settings = self.runtime.settings
        allowed, origin = allowed_input_dirs(settings, roots)
        mode: FitMode = "cover" if fit == "none" else fit
        request = FitRequest(target=Size.parse(size), mode=mode)
        try:
            source = read_image_input(image, allowed, allowed_origin=origin)
            outcome = await anyio.to_thread.run_sync(
                lambda: fit_image(source, request, reference_dir(settings.output_dir))
            )
        except ImageInputError as exc:
            raise ToolError(exc.problem().model_copy(update={"param": exc.param or param})) from None
        if fit == "none" and not outcome.passed_through:
            raise ToolError.of(
                "image",
                reference_size_mismatch().message,
                code="invalid_image",
                param=param,
                fix=(
                    f"The image is {outcome.source_size}, the video {size}: pass fit='cover' or 'pad', "
                    "or call fit_reference_image."
                ),
            )
        mime = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}[outcome.format]
        return (outcome.path.name, outcome.path.read_bytes(), mime), outcome.path

    async def create_video(
        self,
        prompt: str,
        video: VideoSpec,
        ctx: Context,
        reference_image: str,
        fit: FitChoice,
        wait_seconds: float,
        idempotency_key: str,
        roots: ListRootsResult | None,
    ) -> CallToolResult:
        order = self.service.plan_create(prompt, video)
        reference: tuple[str, bytes, str] | None = None
        reference_path: Path | None = None
        last: tuple[str, bytes, str] | None = None
        last_path: Path | None = None
        if reference_image.strip():
            reference, reference_path = await self._reference(reference_image, video.size, fit, roots)
        last_frame = getattr(video, "last_frame", None)
        if isinstance(last_frame, str) and last_frame.strip():
            last, last_path = await self._reference(last_frame, video.size, fit, roots, param="video.last_frame")
        if reference is not None or last is not None:
            order = self.service.plan_create(prompt, video, reference, reference_path, last, last_path)
        created = await self.service.create(order, idempotency_key or None)
        record = await self.service.wait(created.record, wait_seconds, progress_reporter(ctx))
        return self._result(await self.service.collect(record), reused=created.reused)

    async def get_video_status(self, video_id: str, ctx: Context, wait_seconds: float) -> CallToolResult:
        record = await self.service.lookup(video_id.strip())
        if record.kind == "long":  # a long video: its segments are advanced and reported as one job
            from sora_mcp.tools.long_video import LongVideoTools

            return await LongVideoTools(self.runtime, self.service, self.delivery).status(record, ctx, wait_seconds)
        return self._result(await self.service.status(video_id.strip(), wait_seconds, progress_reporter(ctx)))

    async def list_videos(self, limit: int, refresh: bool) -> CallToolResult:
        listing = await self.service.listing(limit, refresh)
        label = self.service.label()
        provider, sandbox = listing.provider_budget, listing.sandbox_budget
        result = VideoList(
            backend=label,
            jobs=[present(job_view(r, label), r, self.delivery) for r in listing.records],
            spent_today_usd=provider.spent_usd,
            daily_budget_usd=provider.limit_usd,
            sandbox_spent_today_usd=sandbox.spent_usd,
            sandbox_daily_budget_usd=sandbox.limit_usd,
        )
        lines = [
            f"{len(result.jobs)} job(s); spent today ${provider.spent_usd:.2f} of ${provider.limit_usd:.2f} at "
            f"providers, ${sandbox.spent_usd:.2f} of ${sandbox.limit_usd:.2f} in the sandbox (simulated). "
            "Failed jobs are not counted."
        ]
        lines += [
            f"- {j.video_id or j.job_id}: {j.status} {j.progress}% {j.model} {j.seconds}s {j.size}" for j in result.jobs
        ]
        return ok("\n".join(lines), result)

    async def download_video(self, video_id: str, variant: Variant) -> CallToolResult:
        record, path = await self.service.download_asset(video_id.strip(), variant)
        view = present(job_view(record, self.service.label()), record, self.delivery)
        where = path.as_uri() if self.delivery is None else self.delivery.address(record, variant) or ""
        return ok(
            f"Downloaded the {variant} of {video_id} to {path}"
            if self.delivery is None
            else f"The {variant} of {video_id}: {where}",
            view,
            [ResourceLink(type="resource_link", uri=where, name=path.name)],
        )

    async def remix_video(
        self, video_id: str, prompt: str, ctx: Context, wait_seconds: float, idempotency_key: str
    ) -> CallToolResult:
        order = await self.service.plan_derive(video_id.strip(), prompt, "remix")
        return await self._start(order, ctx, wait_seconds, idempotency_key)

    async def extend_video(
        self, video_id: str, prompt: str, seconds: int, ctx: Context, wait_seconds: float, idempotency_key: str
    ) -> CallToolResult:
        order = await self.service.plan_derive(video_id.strip(), prompt, "extend", seconds)
        return await self._start(order, ctx, wait_seconds, idempotency_key)

    async def _start(self, order: Any, ctx: Context, wait_seconds: float, idempotency_key: str) -> CallToolResult:
        created = await self.service.create(order, idempotency_key or None)
        record = await self.service.wait(created.record, wait_seconds, progress_reporter(ctx))
        return self._result(await self.service.collect(record), reused=created.reused)

    async def delete_video(self, video_id: str) -> CallToolResult:
        record = await self.service.delete(video_id.strip())
        assert record.video_id is not None
        kept = [p for p in (record.video_path, record.thumbnail_path, record.spritesheet_path) if p]
        if self.delivery is not None:  # a remote client gets the links, not the server's paths
            variants: tuple[Variant, ...] = ("video", "thumbnail", "spritesheet")
            kept = [a for a in (self.delivery.address(record, v) for v in variants) if a]
        text = f"Deleted {record.video_id} at the provider." + (f" Local files kept: {', '.join(kept)}" if kept else "")
        return ok(text, DeletedVideo(video_id=record.video_id, deleted=True, kept_files=kept))

    def explain_create_refusal(self, arguments: dict[str, Any], refusal: ErrorInfo) -> ErrorInfo:
        """A refused `video` gets validate_params' verdict: the provider's wording and the nearest legal request."""
        video = arguments.get("video")
        if not (refusal.param or "").startswith("video") or not isinstance(video, dict):
            return refusal
        model_name, seconds_given, size_given = video.get("model"), video.get("seconds"), video.get("size")
        wish = Wish(
            model=model_name if isinstance(model_name, str) else None,
            seconds=seconds_given
            if isinstance(seconds_given, str | int | float) and not isinstance(seconds_given, bool)
            else None,
            size=size_given if isinstance(size_given, str) else None,
        )
        verdict = check(self.runtime.catalog, wish)
        request = verdict.request
        nearest = (
            {"model": request.model, "seconds": str(request.wire_seconds), "size": request.size}
            if request is not None
            else None
        )
        message, param, code = refusal.message, refusal.param, refusal.code
        model = self.runtime.catalog.find(video["model"]) if isinstance(video.get("model"), str) else None
        seconds, size = video.get("seconds"), video.get("size")
        if refusal.code in ("unknown_parameter", "missing_required_parameter"):
            pass
        elif verdict.errors:
            message = " ".join(e.message for e in verdict.errors)
            param = f"video.{verdict.errors[0].param}" if verdict.errors[0].param else "video"
            code = verdict.errors[0].code or code
        elif model is not None and not isinstance(seconds, str):
            message, param, code = invalid_seconds_type(model.wire_seconds).message, "video.seconds", "invalid_type"
        elif model is not None and seconds not in model.wire_seconds:
            message, param = invalid_value("seconds", seconds, model.wire_seconds).message, "video.seconds"
        elif model is not None and size not in model.sizes:
            message, param = invalid_value("size", size, model.sizes).message, "video.size"
        fix = "Send video exactly as the nearest legal request" + (
            f': {{"model": "{nearest["model"]}", "seconds": "{nearest["seconds"]}", "size": "{nearest["size"]}"}}.'
            if nearest
            else "; validate_params lists the options."
        )
        update = {"message": message, "param": param, "code": code, "nearest_request": nearest, "fix": fix}
        return refusal.model_copy(update=update)


_WAIT = Field(description=WAIT_DESCRIPTION, ge=0, le=MAX_WAIT_SECONDS)
_VIDEO_ID = Field(description="the video id returned by create_video (or the job id)", min_length=1, max_length=512)
_KEY = Field(description=IDEMPOTENCY_DESCRIPTION, max_length=IDEMPOTENCY_KEY_MAX_CHARS)
_PROMPT_CHARS = 32000


def specs(runtime: Runtime, service: VideoService, delivery: Delivery | None = None) -> list[ToolSpec]:
    tools = VideoTools(runtime, service, delivery)

    async def create_video(
        prompt: str,
        video: VideoSpec,
        ctx: Context,
        reference_image: str = "",
        fit: FitChoice = "cover",
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
        idempotency_key: str = "",
        roots: Annotated[ListRootsResult | None, Resolve(client_roots)] = None,
    ) -> Annotated[CallToolResult, VideoJob]:
        return await tools.create_video(prompt, video, ctx, reference_image, fit, wait_seconds, idempotency_key, roots)

    async def get_video_status(
        video_id: Annotated[str, _VIDEO_ID],
        ctx: Context,
        wait_seconds: Annotated[float, _WAIT] = DEFAULT_WAIT_SECONDS,
    ) -> Annotated[CallToolResult, VideoJob]:
        return await tools.get_video_status(video_id, ctx, wait_seconds)

    async def list_videos(
        limit: Annotated[int, Field(description="newest first, 1 to 100", ge=1, le=100)] = 20,
        refresh: Annotated[bool, Field(description="ask the provider about unfinished jobs first")] = False,
    ) -> Annotated[CallToolResult, VideoList]:
        return await tools.list_videos(limit, refresh)

    async def download_video(
        video_id: Annotated[str, _VIDEO_ID],
        variant: Annotated[Variant, Field(description="video (MP4), thumbnail (WebP) or spritesheet (JPEG)")] = "video",
    ) -> Annotated[CallToolResult, VideoJob]:
        return await tools.download_video(video_id, variant)

    async def remix_video(
        video_id: Annotated[str, _VIDEO_ID],
        prompt: Annotated[
            str, Field(description="what to change in the video", min_length=1, max_length=_PROMPT_CHARS)
        ],
        ctx: Context,
        wait_seconds: Annotated[float, _WAIT] = DEFAULT_WAIT_SECONDS,
        idempotency_key: Annotated[str, _KEY] = "",
    ) -> Annotated[CallToolResult, VideoJob]:
        return await tools.remix_video(video_id, prompt, ctx, wait_seconds, idempotency_key)

    async def extend_video(
        video_id: Annotated[str, _VIDEO_ID],
        prompt: Annotated[str, Field(description="what happens next", min_length=1, max_length=_PROMPT_CHARS)],
        seconds: Annotated[int, Field(description="seconds to add in this step", ge=1, le=3600)],
        ctx: Context,
        wait_seconds: Annotated[float, _WAIT] = DEFAULT_WAIT_SECONDS,
        idempotency_key: Annotated[str, _KEY] = "",
    ) -> Annotated[CallToolResult, VideoJob]:
        return await tools.extend_video(video_id, prompt, seconds, ctx, wait_seconds, idempotency_key)

    async def delete_video(video_id: Annotated[str, _VIDEO_ID]) -> Annotated[CallToolResult, DeletedVideo]:
        return await tools.delete_video(video_id)

    waiting = (
        " Waits up to wait_seconds (default 3, at most 45) and reports progress; call get_video_status to keep "
        "waiting. Retrying an identical call returns the same job: nothing is paid twice."
    )
    return [
        ToolSpec(
            fn=create_video,
            name="create_video",
            title="Create a video",
            description=(
                "Start rendering a video (this costs money on a real provider). video={model, seconds, size} "
                "accepts only legal combinations; if unsure, call validate_params first and pass its request. "
                "reference_image (a file path or data: URL) becomes the first frame and is fitted to the size "
                "automatically (fit: cover, pad, stretch, or none to refuse a mismatch)."
                + waiting
                + " Returns the job; when it completes, the MP4, thumbnail and spritesheet are downloaded and "
                "their paths returned."
            ),
            annotations=hints(read_only=False, idempotent=False, open_world=True),
            input_schema=create_video_schema(runtime.catalog),
            explain=tools.explain_create_refusal,
        ),
        ToolSpec(
            fn=get_video_status,
            name="get_video_status",
            title="Check or wait for a video",
            description=(
                "Get the status of a video job and wait for it to finish."
                " Waits up to wait_seconds (default 3, at most 45) and reports progress; call again to keep waiting."
                " On completion downloads the MP4, thumbnail and spritesheet once and returns their paths, the "
                "cost and the thumbnail as an image. A failed job returns the provider's reason and what to change."
            ),
            annotations=hints(read_only=False, idempotent=True, open_world=True),
        ),
        ToolSpec(
            fn=list_videos,
            name="list_videos",
            title="List video jobs",
            description=(
                "List the video jobs this server has recorded (newest first) with status, files and cost, plus "
                "today's spend against the daily budgets (real providers and the sandbox are counted apart; "
                "failed jobs cost nothing). refresh=true asks the provider about unfinished jobs."
            ),
            annotations=hints(read_only=True, idempotent=True, open_world=True),
        ),
        ToolSpec(
            fn=download_video,
            name="download_video",
            title="Download a video asset",
            description=(
                "Download one asset of a completed video (video MP4, thumbnail WebP or spritesheet JPEG) into the "
                "output directory and return its path. get_video_status already downloads all three on completion."
            ),
            annotations=hints(read_only=False, idempotent=True, open_world=True),
        ),
        ToolSpec(
            fn=remix_video,
            name="remix_video",
            title="Remix a video",
            description=(
                "Make a new video from a completed one with a changed prompt (same model, length and size; costs "
                "as much as the original)." + waiting
            ),
            annotations=hints(read_only=False, idempotent=False, open_world=True),
        ),
        ToolSpec(
            fn=extend_video,
            name="extend_video",
            title="Extend a video",
            description=(
                "Continue a completed video by seconds more (within the model's extension limits from "
                "list_models); the result's length is the stitched total and only the added seconds are billed."
                + waiting
            ),
            annotations=hints(read_only=False, idempotent=False, open_world=True),
        ),
        ToolSpec(
            fn=delete_video,
            name="delete_video",
            title="Delete a video",
            description=(
                "Delete a video at the provider (its download links stop working). Files already downloaded are "
                "kept. This cannot be undone."
            ),
            annotations=hints(read_only=False, destructive=True, idempotent=True, open_world=True),
        ),
    ]
