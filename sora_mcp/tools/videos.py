"""The video job tools: create_video, get_video_status, list_videos, download_video, remix, extend, delete.

Each returns the job as structured content plus one line saying exactly what to call next, waits at most
45 s (clients cut calls at about 60 s), and turns every failure into an error the agent can act on.
"""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path
from typing import Annotated, Any, cast

import anyio.to_thread
from mcp.server.mcpserver import Context, Resolve
from mcp.types import CallToolResult, ContentBlock, ImageContent, ListRootsResult, ResourceLink
from pydantic import BaseModel, Field

from sora_mcp.api_errors import ApiError, reference_size_mismatch
from sora_mcp.catalog import ModelSpec
from sora_mcp.jobs.ledger import JobRecord
from sora_mcp.request_schema import MAX_PROMPT_CHARS, VideoSpec, create_video_schema
from sora_mcp.runtime import Runtime
from sora_mcp.tooling import ToolSpec, fail, hints, ok
from sora_mcp.tools.images import allowed_input_dirs, client_roots
from sora_mcp.validation import Wish, check, summarize, wire_value
from sora_mcp.videos.provider import ProviderError
from sora_mcp.videos.service import CreateOrder, JobFailure, Progress, VideoService
from sora_mcp.videos.views import DeletedVideo, VideoJob, VideoList, fix_for, job_view

logger = logging.getLogger(__name__)

THUMBNAIL_LIMIT_BYTES = 200_000
FIT_CHOICES = ("cover", "pad", "stretch", "none")


class ToolFailure(BaseModel):
    """Why a video tool could not do what was asked, in the API's error shape, and what to do instead."""

    error: ApiError
    fix: str | None = None
    job: VideoJob | None = None
    verdict: dict[str, Any] | None = Field(default=None, description="validate_params' answer, for bad requests")


def progress_reporter(ctx: Context) -> Progress:
    """Forward progress only upward: clients require strictly increasing values (and ignore the rest)."""
    last = -1.0

    async def report(percent: float, message: str) -> None:
        nonlocal last
        if percent > last:
            last = percent
            await ctx.report_progress(percent, 100.0, message)

    return report


def _failure(exc: JobFailure | ProviderError, backend: str) -> CallToolResult:
    if isinstance(exc, ProviderError):
        error, record, fix = exc.error, None, fix_for(exc.error.code, exc.error.message)
    else:
        error, record, fix = exc.error, exc.record, exc.fix or fix_for(exc.error.code, exc.error.message)
    job = job_view(record, backend, fix) if record is not None else None
    text = error.message + (f" Fix: {fix}" if fix else "")
    if job is not None:
        text += f" (job {job.video_id or job.job_id}, status {job.status})"
    return fail(text, ToolFailure(error=error, fix=fix, job=job))


def _thumbnail_content(path: str | None) -> list[ContentBlock]:
    """The thumbnail as an image the agent can see, downscaled to stay small in the result."""
    if path is None or not Path(path).exists():
        return []
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
    return [ImageContent(type="image", data=base64.b64encode(data).decode(), mime_type=mime)]


def _links(record: JobRecord) -> list[ContentBlock]:
    links: list[ContentBlock] = []
    for path, mime in ((record.video_path, "video/mp4"), (record.spritesheet_path, "image/jpeg")):
        if path:
            links.append(
                ResourceLink(type="resource_link", uri=Path(path).as_uri(), name=Path(path).name, mime_type=mime)
            )
    return links


def _job_text(view: VideoJob) -> str:
    vid = view.video_id or view.job_id
    cost = f"${view.estimated_cost_usd:.2f}" if view.estimated_cost_usd is not None else "unknown cost"
    head = (
        f"Video {vid} [{view.backend}]: {view.status} {view.progress}% — "
        f"{view.model}, {view.seconds} s, {view.size}, {cost}."
    )
    lines = [head]
    if view.files.video:
        lines.append(f"MP4: {view.files.video}")
        lines.append(f"Thumbnail: {view.files.thumbnail}  Spritesheet: {view.files.spritesheet}")
    if view.error is not None:
        lines.append(f"Error: {view.error.message}" + (f" Fix: {view.error.fix}" if view.error.fix else ""))
    if view.assets_expired and not view.files.video:
        lines.append("The provider's download links have expired.")
    lines.append(f"Next: {view.next_step}")
    return "\n".join(lines)


def _result(record: JobRecord, backend: str) -> CallToolResult:
    view = job_view(record, backend, fix_for(record.error_code, record.error_message))
    extra = [*_thumbnail_content(record.thumbnail_path), *_links(record)] if record.video_path else []
    if record.status == "failed":
        return fail(
            _job_text(view),
            ToolFailure(
                error=ApiError(message=view.error.message if view.error else "failed", code=record.error_code),
                fix=view.error.fix if view.error else None,
                job=view,
            ),
        )
    return ok(_job_text(view), view, extra)


class VideoTools:
    """The tools share one `VideoService`; the backend behind it starts on first use."""

    def __init__(self, runtime: Runtime, service: VideoService) -> None:
        self.runtime = runtime
        self.service = service

    async def _label(self) -> str:
        return (await self.service.connection()).label

    async def _finish(self, record: JobRecord, wait_seconds: float, ctx: Context) -> CallToolResult:
        record = await self.service.wait(record, wait_seconds, progress_reporter(ctx))
        record = await self.service.collect(record)
        return _result(record, await self._label())

    def _check_spec(self, video: VideoSpec) -> tuple[ModelSpec, int] | CallToolResult:
        verdict = check(self.runtime.catalog, Wish(model=video.model, seconds=video.seconds, size=video.size))
        model = self.runtime.catalog.find(video.model)
        exact = (
            verdict.valid
            and model is not None
            and verdict.request is not None
            and verdict.request.size == video.size.strip()
        )
        if not exact or model is None or verdict.request is None:
            errors = verdict.errors or [
                ApiError(message=f"Invalid value: '{video.size}'.", param="size", code="invalid_value")
            ]
            return fail(
                summarize(verdict),
                ToolFailure(
                    error=errors[0],
                    fix="Use the request validate_params proposes.",
                    verdict=verdict.model_dump(mode="json", exclude_none=True),
                ),
            )
        return model, verdict.request.seconds

    async def _reference(
        self, image: str, size: str, fit: str, roots: ListRootsResult | None
    ) -> tuple[tuple[str, bytes, str], Path] | CallToolResult:
        from sora_mcp.imaging import FitMode, FitRequest, ImageInputError, fit_image, read_image_input, reference_dir
        from sora_mcp.sizes import Size

        settings = self.runtime.settings
        allowed, origin = allowed_input_dirs(settings, roots)
        try:
            source = read_image_input(image, allowed, allowed_origin=origin)
            mode: FitMode = "cover" if fit == "none" else cast(FitMode, fit)
            request = FitRequest(target=Size.parse(size), mode=mode)
            outcome = await anyio.to_thread.run_sync(
                lambda: fit_image(source, request, reference_dir(settings.output_dir))
            )
        except ImageInputError as exc:
            return fail(
                f"reference_image: {exc}",
                ToolFailure(error=ApiError(message=str(exc), param="reference_image", code="invalid_image")),
            )
        if fit == "none" and not outcome.passed_through:
            error = reference_size_mismatch()
            fix = (
                f"The image is {outcome.source_size}, the video {size}: pass fit='cover' or 'pad', "
                "or call fit_reference_image."
            )
            return fail(f"{error.message}. {fix}", ToolFailure(error=error, fix=fix))
        mime = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}[outcome.format]
        return (outcome.path.name, outcome.path.read_bytes(), mime), outcome.path

    async def create_video(
        self,
        prompt: str,
        video: VideoSpec,
        ctx: Context,
        reference_image: str | None = None,
        fit: str = "cover",
        wait_seconds: float = 30,
        roots: ListRootsResult | None = None,
    ) -> CallToolResult:
        if not prompt.strip() or len(prompt) > MAX_PROMPT_CHARS:
            error = ApiError(
                message=f"prompt must be 1 to {MAX_PROMPT_CHARS} characters, got {len(prompt)}.",
                param="prompt",
                code="invalid_value",
            )
            return fail(error.message, ToolFailure(error=error))
        if fit not in FIT_CHOICES:
            error = ApiError(
                message=f"Invalid value: '{fit}'. Supported values are: 'cover', 'pad', 'stretch', and 'none'.",
                param="fit",
                code="invalid_value",
            )
            return fail(error.message, ToolFailure(error=error))
        checked = self._check_spec(video)
        if isinstance(checked, CallToolResult):
            return checked
        model, seconds = checked
        reference: tuple[str, bytes, str] | None = None
        reference_path: Path | None = None
        if reference_image:
            fitted = await self._reference(reference_image, video.size.strip(), fit, roots)
            if isinstance(fitted, CallToolResult):
                return fitted
            reference, reference_path = fitted
        order = CreateOrder(
            kind="create",
            model=video.model.strip(),
            seconds=seconds,
            wire_seconds=wire_value(model, seconds),
            size=video.size.strip(),
            prompt=prompt,
            estimated_cost_usd=model.cost(seconds, video.size.strip()),
            reference=reference,
            reference_path=reference_path,
        )
        try:
            record = await self.service.create(order)
            return await self._finish(record, wait_seconds, ctx)
        except (JobFailure, ProviderError) as exc:
            return _failure(exc, await self._label())

    async def get_video_status(self, video_id: str, ctx: Context, wait_seconds: float = 30) -> CallToolResult:
        try:
            record = await self.service.lookup(video_id.strip())
            return await self._finish(record, wait_seconds, ctx)
        except (JobFailure, ProviderError) as exc:
            return _failure(exc, self.runtime.backend_label)

    async def list_videos(self, limit: int = 20, refresh: bool = False) -> CallToolResult:
        records = await self.service.ledger.list(limit=max(1, min(limit, 100)))
        if refresh:
            refreshed = []
            for record in records:
                try:
                    refreshed.append(await self.service.refresh(record))
                except ProviderError:
                    refreshed.append(record)
            records = tuple(refreshed)
        budget = await self.service.ledger.budget(self.runtime.settings.daily_budget_usd)
        label = self.runtime.backend_label
        listing = VideoList(
            backend=label,
            jobs=[job_view(r, label) for r in records],
            spent_today_usd=budget.spent_usd,
            daily_budget_usd=budget.limit_usd,
        )
        lines = [f"{len(records)} job(s); spent today ${budget.spent_usd:.2f} of ${budget.limit_usd:.2f}."]
        lines += [
            f"- {j.video_id or j.job_id}: {j.status} {j.progress}% {j.model} {j.seconds}s {j.size}"
            for j in listing.jobs
        ]
        return ok("\n".join(lines), listing)

    async def download_video(self, video_id: str, variant: str = "video") -> CallToolResult:
        if variant not in ("video", "thumbnail", "spritesheet"):
            error = ApiError(
                message=f"Invalid value: '{variant}'. Supported values are: 'video', 'thumbnail', and 'spritesheet'.",
                param="variant",
                code="invalid_value",
            )
            return fail(error.message, ToolFailure(error=error))
        try:
            record = await self.service.lookup(video_id.strip())
            record = await self.service.refresh(record)
            if record.status != "completed":
                return _result(record, await self._label())
            path = await self.service.download(record, variant)  # type: ignore[arg-type]
            if variant == "video":
                record = await self.service.ledger.set_files(record.video_id or record.local_id, video_path=path)
            view = job_view(record, await self._label())
            return ok(
                f"Downloaded the {variant} of {video_id} to {path}",
                view,
                [ResourceLink(type="resource_link", uri=path.as_uri(), name=path.name)],
            )
        except (JobFailure, ProviderError) as exc:
            return _failure(exc, self.runtime.backend_label)

    async def _derive(
        self, parent_id: str, prompt: str, kind: str, seconds: int | None, wait_seconds: float, ctx: Context
    ) -> CallToolResult:
        try:
            parent = await self.service.lookup(parent_id.strip())
            if parent.status != "completed" or parent.video_id is None:
                error = ApiError(
                    message=f"Video '{parent_id}' is {parent.status}; only a completed video can be used.",
                    param="video_id",
                    code="invalid_value",
                )
                return fail(
                    error.message, ToolFailure(error=error, fix="Wait with get_video_status until it completes.")
                )
            model = self.runtime.catalog.find(parent.model)
            if model is None:
                error = ApiError(message=f"Model '{parent.model}' is not in the active catalog.", param="model")
                return fail(error.message, ToolFailure(error=error))
            if kind == "extend":
                problem = await self._extension_problem(parent, model, seconds or 0)
                if problem is not None:
                    return fail(problem.message, ToolFailure(error=problem))
                added = seconds or 0
                order = CreateOrder(
                    kind="extend",
                    model=parent.model,
                    seconds=parent.seconds + added,
                    wire_seconds=wire_value(model, added),
                    size=parent.size,
                    prompt=prompt,
                    estimated_cost_usd=model.cost(added, parent.size),
                    parent_video_id=parent.video_id,
                )
            else:
                order = CreateOrder(
                    kind="remix",
                    model=parent.model,
                    seconds=parent.seconds,
                    wire_seconds=wire_value(model, parent.seconds),
                    size=parent.size,
                    prompt=prompt,
                    estimated_cost_usd=model.cost(parent.seconds, parent.size),
                    parent_video_id=parent.video_id,
                )
            record = await self.service.create(order)
            return await self._finish(record, wait_seconds, ctx)
        except (JobFailure, ProviderError) as exc:
            return _failure(exc, self.runtime.backend_label)

    async def _extension_problem(self, parent: JobRecord, model: ModelSpec, seconds: int) -> ApiError | None:
        limits = model.extension
        if limits is None:
            return ApiError(
                message=f"Model '{model.id}' cannot be extended under profile '{self.runtime.catalog.profile}'.",
                param="video_id",
                code="unsupported",
            )
        steps = 0
        current: JobRecord | None = parent
        while current is not None and current.kind == "extend" and current.parent_video_id:
            steps += 1
            current = await self.service.ledger.get(current.parent_video_id)
        if not 1 <= seconds <= limits.max_step_seconds:
            return ApiError(
                message=f"seconds must be 1 to {limits.max_step_seconds} per extension, got {seconds}.",
                param="seconds",
                code="invalid_value",
            )
        if steps + 1 > limits.max_steps:
            return ApiError(
                message=(
                    f"A video can be extended at most {limits.max_steps} times; "
                    f"this one has been extended {steps} times."
                ),
                param="video_id",
                code="invalid_value",
            )
        if parent.seconds + seconds > limits.max_total_seconds:
            return ApiError(
                message=(
                    f"Extending {parent.seconds} s by {seconds} s would pass the {limits.max_total_seconds} s "
                    f"limit; at most {limits.max_total_seconds - parent.seconds} s can be added."
                ),
                param="seconds",
                code="invalid_value",
            )
        return None

    async def remix_video(self, video_id: str, prompt: str, ctx: Context, wait_seconds: float = 30) -> CallToolResult:
        return await self._derive(video_id, prompt, "remix", None, wait_seconds, ctx)

    async def extend_video(
        self, video_id: str, prompt: str, seconds: int, ctx: Context, wait_seconds: float = 30
    ) -> CallToolResult:
        return await self._derive(video_id, prompt, "extend", seconds, wait_seconds, ctx)

    async def delete_video(self, video_id: str) -> CallToolResult:
        try:
            record = await self.service.lookup(video_id.strip())
            if record.video_id is None:
                error = ApiError(
                    message=f"Job '{video_id}' never reached the provider; nothing to delete.",
                    param="video_id",
                    code="invalid_value",
                )
                return fail(error.message, ToolFailure(error=error))
            connection = await self.service.connection()
            await connection.provider.delete(record.video_id)
            await self.service.ledger.update_from_provider(record.video_id, "deleted")
            self.service.gate.forget(record.video_id)
            kept = [p for p in (record.video_path, record.thumbnail_path, record.spritesheet_path) if p]
            result = DeletedVideo(video_id=record.video_id, deleted=True, kept_files=kept)
            text = f"Deleted {record.video_id} at the provider." + (
                f" Local files kept: {', '.join(kept)}" if kept else ""
            )
            return ok(text, result)
        except (JobFailure, ProviderError) as exc:
            return _failure(exc, self.runtime.backend_label)


_WAIT = Field(description="seconds to wait for the render before answering (default 30, at most 45)", ge=0, le=45)
_VIDEO_ID = Field(description="the video id returned by create_video (or the job id)")


def specs(runtime: Runtime, service: VideoService) -> list[ToolSpec]:
    tools = VideoTools(runtime, service)

    async def create_video(
        prompt: str,
        video: VideoSpec,
        ctx: Context,
        reference_image: str | None = None,
        fit: str = "cover",
        wait_seconds: float = 30,
        roots: Annotated[ListRootsResult | None, Resolve(client_roots)] = None,
    ) -> Annotated[CallToolResult, VideoJob]:
        return await tools.create_video(prompt, video, ctx, reference_image, fit, wait_seconds, roots)

    async def get_video_status(
        video_id: Annotated[str, _VIDEO_ID],
        ctx: Context,
        wait_seconds: Annotated[float, _WAIT] = 30,
    ) -> Annotated[CallToolResult, VideoJob]:
        return await tools.get_video_status(video_id, ctx, wait_seconds)

    async def list_videos(
        limit: Annotated[int, Field(description="newest first, 1 to 100", ge=1, le=100)] = 20,
        refresh: Annotated[bool, Field(description="ask the provider about unfinished jobs first")] = False,
    ) -> Annotated[CallToolResult, VideoList]:
        return await tools.list_videos(limit, refresh)

    async def download_video(
        video_id: Annotated[str, _VIDEO_ID],
        variant: Annotated[str, Field(description="video (MP4), thumbnail (WebP) or spritesheet (JPEG)")] = "video",
    ) -> Annotated[CallToolResult, VideoJob]:
        return await tools.download_video(video_id, variant)

    async def remix_video(
        video_id: Annotated[str, _VIDEO_ID],
        prompt: Annotated[str, Field(description="what to change in the video", min_length=1)],
        ctx: Context,
        wait_seconds: Annotated[float, _WAIT] = 30,
    ) -> Annotated[CallToolResult, VideoJob]:
        return await tools.remix_video(video_id, prompt, ctx, wait_seconds)

    async def extend_video(
        video_id: Annotated[str, _VIDEO_ID],
        prompt: Annotated[str, Field(description="what happens next", min_length=1)],
        seconds: Annotated[int, Field(description="seconds to add in this step", ge=1)],
        ctx: Context,
        wait_seconds: Annotated[float, _WAIT] = 30,
    ) -> Annotated[CallToolResult, VideoJob]:
        return await tools.extend_video(video_id, prompt, seconds, ctx, wait_seconds)

    async def delete_video(video_id: Annotated[str, _VIDEO_ID]) -> Annotated[CallToolResult, DeletedVideo]:
        return await tools.delete_video(video_id)

    waiting = " Waits up to wait_seconds (at most 45) and reports progress; call get_video_status to keep waiting."
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
        ),
        ToolSpec(
            fn=get_video_status,
            name="get_video_status",
            title="Check or wait for a video",
            description=(
                "Get the status of a video job and wait for it to finish."
                + waiting
                + " On completion downloads the MP4, thumbnail and spritesheet once and returns their paths, the "
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
                "today's spend against the daily budget. refresh=true asks the provider about unfinished jobs."
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
