"""The long-video tools: plan_long_video (free, offline) and create_long_video (runs the plan as one job).

`get_video_status` on a long video's job id lands here too (`long_status`): it advances the plan within the
same wait bound as any status call and reports the segments as one strictly increasing progress value.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, Resolve
from mcp.types import CallToolResult, ListRootsResult
from pydantic import BaseModel, Field

from sora_mcp.catalog import Catalog
from sora_mcp.errors import ErrorInfo, ToolError
from sora_mcp.jobs.ledger import JobRecord
from sora_mcp.longvideo.plan import MAX_SEGMENTS, MAX_TOTAL_SECONDS, Ask, LongVideoPlan, Method, Shot, plan
from sora_mcp.longvideo.runner import LongVideos, read_plan, runner_for
from sora_mcp.portable_schema import JsonSchema
from sora_mcp.request_schema import (
    IDEMPOTENCY_DESCRIPTION,
    IDEMPOTENCY_KEY_MAX_CHARS,
    MAX_PROMPT_CHARS,
    WAIT_DESCRIPTION,
)
from sora_mcp.runtime import Runtime
from sora_mcp.sizes import Size
from sora_mcp.tooling import ToolSpec, hints, ok
from sora_mcp.tools.images import client_roots
from sora_mcp.videos.delivery import Delivery
from sora_mcp.videos.service import DEFAULT_WAIT_SECONDS, VideoService
from sora_mcp.videos.views import Files, JobError, VideoJob, files_for, iso

FitChoice = Literal["cover", "pad", "stretch", "none"]


class SegmentView(BaseModel):
    index: int
    seconds: int
    prompt: str
    continuity: str
    status: str = Field(description="planned (not created yet), or the segment job's status")
    progress: int = 0
    job_id: str | None = None
    video_id: str | None = None
    video: str | None = Field(default=None, description="this segment's own MP4")
    cost_usd: float | None = None


class LongVideoJob(BaseModel):
    """A long video: one job made of segments, stitched into one MP4."""

    job_id: str = Field(description="pass it to get_video_status to wait for (and advance) the long video")
    kind: Literal["long"] = "long"
    status: str
    progress: int = Field(description="the whole video's progress, over every segment and the stitch")
    model: str
    size: str
    seconds: int
    summary: str
    estimated_cost_usd: float | None = Field(description="the plan's estimate, reserved when it was admitted")
    cost_usd: float | None = Field(description="what its segments cost or reserve now")
    segments: list[SegmentView]
    files: Files = Field(default_factory=Files)
    error: JobError | None = None
    backend: str
    created_at: str
    next_step: str
    reused: bool = Field(default=False, description="an identical earlier request made this job; nothing new paid")


def _size_enum(catalog: Catalog) -> list[str]:
    return sorted({s for m in catalog for s in m.sizes}, key=lambda s: (Size.parse(s).area, s))


def plan_schema(catalog: Catalog, *, create: bool) -> JsonSchema:
    """The inputs of plan_long_video (and, with `create`, of create_long_video), from the catalog."""
    longest = {m.id: max(m.seconds) for m in catalog}
    properties: JsonSchema = {
        "total_seconds": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_TOTAL_SECONDS,
            "description": "the finished video's length; longest single video per model: "
            + ", ".join(f"{k} {v} s" for k, v in longest.items()),
        },
        "prompt": {
            "type": "string",
            "maxLength": MAX_PROMPT_CHARS,
            "description": "one prompt for the whole video (the planner splits it); or give shots instead",
        },
        "shots": {
            "type": "array",
            "maxItems": MAX_SEGMENTS,
            "description": "one segment per shot, in order; seconds optional (the planner picks legal ones)",
            "items": {
                "type": "object",
                "properties": {
                    "prompt": {"type": "string", "minLength": 1, "maxLength": MAX_PROMPT_CHARS},
                    "seconds": {"type": "integer", "minimum": 1, "maximum": MAX_TOTAL_SECONDS},
                },
                "required": ["prompt"],
                "additionalProperties": False,
            },
        },
        "model": {
            "type": "string",
            "enum": list(catalog.model_names),
            "description": "optional; left out, the cheapest plan over the catalog's active models is chosen",
        },
        "size": {"type": "string", "enum": _size_enum(catalog), "description": "optional; the model's default"},
        "method": {
            "type": "string",
            "enum": ["auto", "first_frame", "extend"],
            "description": (
                "how shots join: first_frame (each segment starts from the previous one's last frame), extend "
                "(the provider extends the video, where the catalog allows), auto (cheapest, then fewest jobs)"
            ),
        },
        "first_frame": {
            "type": "string",
            "description": "optional first frame of the whole video: a file path or data: URL, fitted to the size",
        },
        "fit": {
            "type": "string",
            "enum": ["cover", "pad", "stretch", "none"],
            "description": "how first_frame is fitted",
        },
    }
    if any(m.last_frame for m in catalog):
        properties["last_frame"] = {
            "type": "string",
            "description": (
                "optional image the whole video ends on (models that take a last frame): a file path or data: URL"
            ),
        }
    if any(m.audio_optional for m in catalog):
        properties["audio"] = {
            "type": "boolean",
            "description": "ask for audio on models where it is optional (priced higher); others have it or not",
        }
    if create:
        properties["wait_seconds"] = {"type": "number", "minimum": 0, "maximum": 45, "description": WAIT_DESCRIPTION}
        properties["idempotency_key"] = {
            "type": "string",
            "maxLength": IDEMPOTENCY_KEY_MAX_CHARS,
            "description": IDEMPOTENCY_DESCRIPTION,
        }
        properties["resume_from"] = {
            "type": "string",
            "maxLength": 200,
            "description": "the job id of a long video that failed: its finished segments are kept, not paid again",
        }
    return {
        "type": "object",
        "properties": properties,
        "required": ["total_seconds"],
        "additionalProperties": False,
    }


class LongVideoTools:
    def __init__(self, runtime: Runtime, service: VideoService, delivery: Delivery | None = None) -> None:
        self.runtime = runtime
        self.service = service
        self.delivery = delivery

    @property
    def runner(self) -> LongVideos:
        return runner_for(self.service)

    def _plan(
        self,
        total_seconds: int,
        prompt: str,
        shots: list[Shot] | None,
        model: str,
        size: str,
        method: Method,
        audio: bool,
        first_frame: bool,
        last_frame: bool = False,
    ) -> LongVideoPlan:
        """The plan for these arguments: what plan_long_video shows and create_long_video runs."""
        if shots and prompt.strip():
            raise ToolError.of(
                "request",
                "Give either prompt or shots, not both.",
                code="invalid_value",
                param="shots",
                fix="Put the whole story in prompt, or one prompt per shot in shots.",
            )
        chosen = tuple(shots) if shots else (Shot(prompt=prompt),)
        ask = Ask(
            total_seconds=total_seconds,
            shots=chosen,
            model=model or None,
            size=size or None,
            method=method,
            audio=audio,
            first_frame=first_frame,
            last_frame=last_frame,
            can_extend=self.runtime.dialect.can_extend,
        )
        return plan(self.runtime.catalog, ask)

    def plan_text(self, result: LongVideoPlan) -> str:
        lines = [result.summary, *result.notes]
        lines += [
            f"- segment {s.index + 1}: {s.seconds} s from {s.starts_at} s ({s.continuity}): {s.prompt[:80]}"
            for s in result.segments
        ]
        lines.append(f"Rough time: {result.estimated_minutes} min (segments render one after another).")
        lines.append("Next: create_long_video with the same arguments runs exactly this plan.")
        return "\n".join(lines)

    async def plan_long_video(
        self,
        total_seconds: int,
        prompt: str,
        shots: list[Shot] | None,
        model: str,
        size: str,
        method: Method,
        audio: bool,
        first_frame: str,
        last_frame: str = "",
    ) -> CallToolResult:
        result = self._plan(
            total_seconds,
            prompt,
            shots,
            model,
            size,
            method,
            audio,
            bool(first_frame.strip()),
            bool(last_frame.strip()),
        )
        return ok(self.plan_text(result), result)

    async def create_long_video(
        self,
        total_seconds: int,
        prompt: str,
        shots: list[Shot] | None,
        model: str,
        size: str,
        method: Method,
        audio: bool,
        first_frame: str,
        fit: FitChoice,
        wait_seconds: float,
        idempotency_key: str,
        resume_from: str,
        ctx: Context,
        roots: ListRootsResult | None,
        last_frame: str = "",
    ) -> CallToolResult:
        from sora_mcp.tools.videos import VideoTools, progress_reporter

        result = self._plan(
            total_seconds,
            prompt,
            shots,
            model,
            size,
            method,
            audio,
            bool(first_frame.strip()),
            bool(last_frame.strip()),
        )
        images = VideoTools(self.runtime, self.service)
        if first_frame.strip():
            _, fitted = await images._reference(first_frame, result.size, fit, roots, param="first_frame")
            result.first_frame = str(fitted)
        if last_frame.strip():
            _, fitted = await images._reference(last_frame, result.size, fit, roots, param="last_frame")
            result.last_frame = str(fitted)
        if resume_from.strip():
            result = await self._resume(result, resume_from.strip())
        record, reused = await self.runner.start(result, idempotency_key or None)
        record = await self.runner.advance(record.local_id, wait_seconds, progress_reporter(ctx))
        return await self.view(record, reused=reused)

    async def _resume(self, result: LongVideoPlan, resume_from: str) -> LongVideoPlan:
        """Keep the finished segments of a failed long video whose plan matches segment by segment."""
        old = await self.service.lookup(resume_from)
        if old.kind != "long" or old.status not in ("failed",):
            raise ToolError.of(
                "request",
                f"Job '{resume_from}' is not a failed long video (it is a {old.kind} job, {old.status}).",
                code="invalid_value",
                param="resume_from",
                fix="Pass the job id of a long video that failed, or leave resume_from out.",
            )
        previous = read_plan(old)
        done = {
            c.segment: c
            for c in await self.service.ledger.children(old.tenant, old.local_id)
            if c.status == "completed"
        }
        segments = list(result.segments)
        for index, planned in enumerate(segments):
            earlier = done.get(index)
            same = index < len(previous.segments) and (
                previous.segments[index].seconds,
                previous.segments[index].prompt,
            ) == (planned.seconds, planned.prompt)
            if earlier is None or not same or (previous.model, previous.size) != (result.model, result.size):
                break
            segments[index] = planned.model_copy(update={"reuse_job_id": earlier.local_id})
        kept = [s for s in segments if s.reuse_job_id]
        cost = None
        if result.estimated_cost_usd is not None:
            cost = round(result.estimated_cost_usd - sum(s.estimated_cost_usd or 0 for s in kept), 4)
        return result.model_copy(update={"segments": segments, "estimated_cost_usd": cost})

    async def _segments(self, record: JobRecord) -> tuple[LongVideoPlan, list[SegmentView], float | None]:
        planned = read_plan(record)
        children = {c.segment: c for c in reversed(await self.service.ledger.children(record.tenant, record.local_id))}
        views: list[SegmentView] = []
        total: float | None = 0.0
        for segment in planned.segments:
            child = children.get(segment.index)
            if child is None and segment.reuse_job_id:
                child = await self.service.ledger.get(record.tenant, segment.reuse_job_id)
            view = SegmentView(
                index=segment.index,
                seconds=segment.seconds,
                prompt=segment.prompt,
                continuity=segment.continuity,
                status="planned" if child is None else child.status,
                progress=0 if child is None else child.progress,
                job_id=None if child is None else child.local_id,
                video_id=None if child is None else child.video_id,
                video=None if child is None else files_for(child, self.delivery).video,
                cost_usd=segment.estimated_cost_usd if child is None else child.cost_usd,
            )
            if child is not None and child.status in ("failed", "create_failed"):
                view.cost_usd = 0.0
            if view.cost_usd is None:
                total = None
            elif total is not None:
                total = round(total + view.cost_usd, 4)
            views.append(view)
        return planned, views, total

    def _next(self, record: JobRecord) -> str:
        if record.status == "completed":
            return "Done: open the MP4 at the path given; each segment's own MP4 is listed too."
        return f"Call get_video_status with video_id '{record.local_id}' (it waits up to 45 s per call)."

    def _text(self, record: JobRecord, planned: LongVideoPlan, views: list[SegmentView], cost: float | None) -> str:
        money = f"${cost:.2f}" if cost is not None else "unknown cost"
        lines = [
            f"Long video {record.local_id} [{self.service.label()}]: {record.status} {record.progress}% — "
            + planned.summary
        ]
        lines += [
            f"- segment {v.index + 1}: {v.status} {v.progress}% ({v.seconds} s)" + (f" {v.video}" if v.video else "")
            for v in views
        ]
        lines.append(f"Cost: {money}.")
        if record.video_path:
            files = files_for(record, self.delivery)
            lines.append(f"MP4: {files.video}")
            lines.append(f"Thumbnail: {files.thumbnail}")
        lines.append(f"Next: {self._next(record)}")
        return "\n".join(lines)

    def _failure(self, record: JobRecord) -> ToolError:
        message, _, fix = (record.error_message or "The long video failed.").partition(" Fix: ")
        return ToolError(
            ErrorInfo(stage="job", message=message, code=record.error_code or "segment_failed", fix=fix or None)
        )

    async def view(self, record: JobRecord, *, reused: bool = False) -> CallToolResult:
        if record.status == "failed":
            raise self._failure(record)
        planned, views, cost = await self._segments(record)
        result = LongVideoJob(
            job_id=record.local_id,
            status=record.status,
            progress=record.progress,
            model=record.model,
            size=record.size,
            seconds=record.seconds,
            summary=planned.summary,
            estimated_cost_usd=planned.estimated_cost_usd,
            cost_usd=cost,
            segments=views,
            files=files_for(record, self.delivery),
            backend=self.service.label(),
            created_at=iso(record.created_at) or "",
            next_step=self._next(record),
            reused=reused,
        )
        return ok(self._text(record, planned, views, cost), result, self._extra(record))

    def _extra(self, record: JobRecord) -> list[Any]:
        from sora_mcp.tools.videos import _links, _thumbnail_content

        return [*_thumbnail_content(record.thumbnail_path), *_links(record, self.delivery)] if record.video_path else []

    async def status(self, record: JobRecord, ctx: Context, wait_seconds: float) -> CallToolResult:
        """get_video_status on a long video: advance it within the wait, answer as a VideoJob."""
        from sora_mcp.tools.videos import progress_reporter

        report = progress_reporter(ctx)
        floor = record.progress

        async def onward(percent: float, message: str) -> None:
            if percent >= floor:  # segments already done are not reported again: the value only grows
                await report(percent, message)

        record = await self.runner.advance(record.local_id, wait_seconds, onward)
        self.runner.spawn(record.local_id)
        if record.status == "failed":
            raise self._failure(record)
        planned, views, cost = await self._segments(record)
        job = VideoJob(
            job_id=record.local_id,
            kind="long",
            status=record.status,
            progress=record.progress,
            model=record.model,
            seconds=record.seconds,
            size=record.size,
            prompt=planned.summary,
            backend=self.service.label(),
            profile=record.profile,
            estimated_cost_usd=cost,
            final_cost_usd=cost if record.status == "completed" else None,
            files=files_for(record, self.delivery),
            created_at=iso(record.created_at) or "",
            completed_at=iso(record.completed_at),
            next_step=self._next(record),
        )
        return ok(self._text(record, planned, views, cost), job, self._extra(record))


def specs(runtime: Runtime, service: VideoService, delivery: Delivery | None = None) -> list[ToolSpec]:
    tools = LongVideoTools(runtime, service, delivery)

    async def plan_long_video(
        total_seconds: int,
        prompt: str = "",
        shots: list[Shot] | None = None,
        model: str = "",
        size: str = "",
        method: Method = "auto",
        audio: bool = False,
        first_frame: str = "",
        fit: FitChoice = "cover",
        last_frame: str = "",
    ) -> Annotated[CallToolResult, LongVideoPlan]:
        return await tools.plan_long_video(
            total_seconds, prompt, shots, model, size, method, audio, first_frame, last_frame
        )

    async def create_long_video(
        total_seconds: int,
        ctx: Context,
        prompt: str = "",
        shots: list[Shot] | None = None,
        model: str = "",
        size: str = "",
        method: Method = "auto",
        audio: bool = False,
        first_frame: str = "",
        fit: FitChoice = "cover",
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
        idempotency_key: str = "",
        resume_from: str = "",
        last_frame: str = "",
        roots: Annotated[ListRootsResult | None, Resolve(client_roots)] = None,
    ) -> Annotated[CallToolResult, LongVideoJob]:
        return await tools.create_long_video(
            total_seconds,
            prompt,
            shots,
            model,
            size,
            method,
            audio,
            first_frame,
            fit,
            wait_seconds,
            idempotency_key,
            resume_from,
            ctx,
            roots,
            last_frame,
        )

    return [
        ToolSpec(
            fn=plan_long_video,
            name="plan_long_video",
            title="Plan a long video",
            description=(
                "Free and offline: plan a video longer than one model can render as legal segments (the exact "
                "total when reachable, else the nearest, said plainly), with the continuity at each cut (the next "
                "segment starts from the previous one's last frame, or the provider extends it), the cost and a "
                "rough time. Give one prompt, or shots (one prompt per segment, seconds optional)."
            ),
            annotations=hints(read_only=True, idempotent=True, open_world=False),
            input_schema=plan_schema(runtime.catalog, create=False),
        ),
        ToolSpec(
            fn=create_long_video,
            name="create_long_video",
            title="Create a long video",
            description=(
                "Run plan_long_video's plan as one job (this costs money on a real provider): the whole estimate "
                "is reserved first (or refused with the figures), each segment starts from the previous one's last "
                "frame (or extends it), and the segments are stitched into one MP4. Returns the job at once (waits "
                "up to wait_seconds); get_video_status with its job_id advances and waits for it, survives restarts "
                "and never makes a segment twice. A failed segment stops the plan and says how to resume."
            ),
            annotations=hints(read_only=False, idempotent=False, open_world=True),
            input_schema=plan_schema(runtime.catalog, create=True),
        ),
    ]
