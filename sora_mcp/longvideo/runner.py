"""Advancing a long video: stateless, so any process holding the ledger can move a plan on after a crash.

The plan lives in the ledger (the `long` job's prompt is the plan's JSON; its estimate is the reservation).
Each step reads the plan and its segments and does the one next thing: wait on the running segment; collect
a finished one; create the next from the previous segment's last frame (or as an extension); stitch once all
are done. A segment's create is keyed by the plan id and its index, and the ledger answers a repeated key with
the recorded job, so a crash, a restart or a second replica never creates a segment twice.
"""

from __future__ import annotations

import dataclasses
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.abc

from sora_mcp.errors import ToolError
from sora_mcp.jobs.ledger import JobRecord
from sora_mcp.longvideo.plan import LongVideoPlan
from sora_mcp.request_schema import VideoSpec
from sora_mcp.tenancy import Tenant, acting_for, current_tenant
from sora_mcp.videos.service import CreateOrder, Progress, VideoService, derive_image

logger = logging.getLogger(__name__)

FAILED = ("failed", "create_failed", "expired", "deleted")
STITCH_SHARE = 5.0
"""Percent of the long job's progress kept for stitching, so 100 means the one MP4 exists."""
BACKGROUND_STEP_SECONDS = 5.0
"""A background step holds the plan's lock at most this long, so a status call is never kept waiting."""


async def _quiet(_percent: float, _message: str) -> None:
    return None


def segment_key(plan_id: str, index: int) -> str:
    """The idempotency key of a plan's segment: the same plan and index always name the same job."""
    return f"long-video:{plan_id}:segment:{index}"


def read_plan(record: JobRecord) -> LongVideoPlan:
    return LongVideoPlan.model_validate_json(record.prompt)


class LongVideos:
    """Runs the long videos of one `VideoService`: on request and, while the server lives, in the background."""

    def __init__(self, service: VideoService) -> None:
        self.service = service
        self._locks: dict[str, anyio.Lock] = {}
        self._group: anyio.abc.TaskGroup | None = None
        self._running: set[str] = set()

    @property
    def output_dir(self) -> Path:
        """The current tenant's output folder (the local tenant's is the output folder itself)."""
        return self.service.output_dir(current_tenant().id)

    # -- starting ---------------------------------------------------------------------------------------

    async def start(self, plan: LongVideoPlan, idempotency_key: str | None) -> tuple[JobRecord, bool]:
        """Record the plan and reserve its whole estimate (or refuse with the figures); nothing is sent yet."""
        order = CreateOrder(
            kind="long",
            model=plan.model,
            seconds=plan.total_seconds,
            wire_seconds=plan.total_seconds,
            size=plan.size,
            prompt=plan.model_dump_json(),
            estimated_cost_usd=plan.estimated_cost_usd,
            reference_path=Path(plan.first_frame) if plan.first_frame else None,
        )
        created = await self.service.create(order, idempotency_key)
        self.spawn(created.record.local_id)
        return created.record, created.reused

    # -- background -------------------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """While the server lives: advance started plans, and resume unfinished ones from the ledger."""
        async with anyio.create_task_group() as group:
            self._group = group
            group.start_soon(self._resume_unfinished)
            try:
                yield None
            finally:
                self._group = None
                group.cancel_scope.cancel()

    def spawn(self, plan_id: str) -> None:
        if self._group is not None and plan_id not in self._running:
            self._running.add(plan_id)
            self._group.start_soon(self._drive, plan_id)

    async def _resume_unfinished(self) -> None:
        await anyio.sleep(0.2)  # after the handshake: resuming never delays initialize
        try:
            records = await self.service.ledger.unfinished_plans()
        except Exception as exc:  # a broken ledger is reported by the tools that need it
            logger.warning("cannot resume long videos: %s", exc)
            return
        for record in records:
            with acting_for(Tenant(record.tenant)):  # the task copies this context: it runs for the plan's tenant
                self.spawn(record.local_id)

    async def _drive(self, plan_id: str) -> None:
        try:
            while True:
                try:
                    record = await self.advance(plan_id, BACKGROUND_STEP_SECONDS, _quiet)
                except ToolError as exc:
                    logger.info("long video %s: %s", plan_id, exc)
                    record = await self.service.lookup(plan_id)
                if record.status in ("completed", *FAILED):
                    return
                await anyio.sleep(0.5)
        except Exception:
            logger.exception("long video %s: background step failed; the next status call retries", plan_id)
        finally:
            self._running.discard(plan_id)

    # -- advancing --------------------------------------------------------------------------------------

    async def advance(self, plan_id: str, wait_seconds: float, progress: Progress = _quiet) -> JobRecord:
        """Move the plan on for at most `wait_seconds`; returns the long job as recorded afterwards."""
        deadline = anyio.current_time() + max(0.0, wait_seconds)
        lock = self._locks.setdefault(plan_id, anyio.Lock())
        with anyio.move_on_after(max(0.0, wait_seconds)) as scope:
            await lock.acquire()
        if scope.cancelled_caught:  # another caller in this process is advancing it: report what is recorded
            return await self.service.lookup(plan_id)
        try:
            return await self._advance(plan_id, deadline, progress)
        finally:
            lock.release()

    async def _advance(self, plan_id: str, deadline: float, progress: Progress) -> JobRecord:
        ledger = self.service.ledger
        parent = await self.service.lookup(plan_id)
        if parent.status in ("completed", *FAILED):
            return parent
        plan = read_plan(parent)
        done_seconds = 0
        segments: list[JobRecord] = []
        children = {
            c.segment: c for c in reversed(await ledger.children(current_tenant().id, plan_id))
        }  # the first recorded wins
        for planned in plan.segments:
            child = children.get(planned.index)
            if child is None and planned.reuse_job_id:
                child = await ledger.get(current_tenant().id, planned.reuse_job_id)
            if child is None:
                try:
                    child = await self._create(plan_id, plan, planned.index, segments)
                except ToolError as exc:
                    recorded = {c.segment: c for c in await ledger.children(current_tenant().id, plan_id)}.get(
                        planned.index
                    )
                    if recorded is None or recorded.status in FAILED:
                        return await self._fail(parent, plan, planned.index, exc.info.message, exc.info.fix)
                    child = recorded  # its answer was lost: it is reconciled, never sent again
            share = planned.seconds / plan.total_seconds * (100.0 - STITCH_SHARE)

            label = f"segment {planned.index + 1}/{len(plan.segments)}"

            async def report(
                percent: float, message: str, base: float = done_seconds, share: float = share, label: str = label
            ) -> None:
                overall = base / plan.total_seconds * (100.0 - STITCH_SHARE) + share * percent / 100.0
                await progress(overall, f"{label}: {message}")

            remaining = max(0.0, deadline - anyio.current_time())
            child = await self.service.wait(child, remaining, report)
            if child.status in FAILED:
                reason = child.error_message or child.error_code or child.status
                return await self._fail(parent, plan, planned.index, reason, None)
            if child.status != "completed":
                return await self._progress(parent, plan, done_seconds, child, planned.seconds)
            child = await self.service.collect(child)
            if not child.video_path:
                return await self._progress(parent, plan, done_seconds, child, planned.seconds)
            segments.append(child)
            done_seconds += planned.seconds
            await progress(done_seconds / plan.total_seconds * (100.0 - STITCH_SHARE), "segment done")
        finished = await self._finish(parent, plan, segments)
        await progress(100.0, "stitched")
        return finished

    async def _create(self, plan_id: str, plan: LongVideoPlan, index: int, before: list[JobRecord]) -> JobRecord:
        """Create segment `index` (its predecessors are done and downloaded), keyed so it is made only once."""
        planned = plan.segments[index]
        if planned.continuity == "extension":
            previous = before[-1]
            assert previous.video_id is not None
            order = await self.service.plan_derive(previous.video_id, planned.prompt, "extend", planned.seconds)
        else:
            reference: tuple[str, bytes, str] | None = None
            reference_path: Path | None = None
            if planned.continuity == "previous_last_frame":
                from sora_mcp.imaging import reference_dir
                from sora_mcp.longvideo.frames import next_first_frame

                video = Path(before[-1].video_path or "")
                reference_path = await anyio.to_thread.run_sync(
                    next_first_frame, video, plan.size, reference_dir(self.output_dir)
                )
            elif planned.continuity == "first_frame_image" and plan.first_frame:
                reference_path = Path(plan.first_frame)
            if reference_path is not None:
                reference = (reference_path.name, reference_path.read_bytes(), _mime(reference_path))
            audio = True if plan.audio else None
            spec = VideoSpec(model=plan.model, seconds=str(planned.seconds), size=plan.size, audio=audio)
            ending: tuple[str, bytes, str] | None = None
            ending_path: Path | None = None
            if plan.last_frame and index == len(plan.segments) - 1:  # the whole video ends on the given image
                ending_path = Path(plan.last_frame)
                ending = (ending_path.name, ending_path.read_bytes(), _mime(ending_path))
            order = self.service.plan_create(planned.prompt, spec, reference, reference_path, ending, ending_path)
        order = dataclasses.replace(order, parent_id=plan_id, segment=index)
        created = await self.service.create(order, segment_key(plan_id, index))
        return created.record

    async def _progress(
        self, parent: JobRecord, plan: LongVideoPlan, done: int, child: JobRecord, seconds: int
    ) -> JobRecord:
        overall = (done + seconds * child.progress / 100.0) / plan.total_seconds * (100.0 - STITCH_SHARE)
        return await self.service.ledger.update_from_provider(
            parent.tenant, parent.local_id, "in_progress", progress=int(overall)
        )

    async def _fail(
        self, parent: JobRecord, plan: LongVideoPlan, index: int, reason: str, fix: str | None
    ) -> JobRecord:
        """Stop the plan: the unspent reservation is released (a failed job is unbilled), and say what next."""
        count = len(plan.segments)
        message = (
            f"Segment {index + 1} of {count} failed: {reason.rstrip('.')}. The long video stopped there; "
            f"segments 1 to {index} are kept (billed), the rest of the reservation is released."
            if index
            else f"Segment 1 of {count} failed: {reason.rstrip('.')}. Nothing was made; the reservation is released."
        )
        advice = (fix + " " if fix else "") + (
            f"To go on, call create_long_video again with resume_from '{parent.local_id}' (finished segments are "
            f"kept, not paid again); change shot {index + 1}'s prompt first if the provider refused it."
        )
        logger.info("long video %s stopped at segment %d: %s", parent.local_id, index + 1, reason)
        return await self.service.ledger.update_from_provider(
            parent.tenant,
            parent.local_id,
            "failed",
            error_code="segment_failed",
            error_message=f"{message} Fix: {advice}",
        )

    async def _finish(self, parent: JobRecord, plan: LongVideoPlan, segments: list[JobRecord]) -> JobRecord:
        """Stitch the segments (an extended video already is the whole), make its thumbnail, mark it done."""
        out = self.output_dir
        stem = f"long_{parent.local_id}"
        dest = out / f"{stem}.mp4"
        if plan.method == "extend":
            video = Path(segments[-1].video_path or "")
            if not dest.is_file():
                await anyio.to_thread.run_sync(_link, video, dest)
        elif not dest.is_file():
            from sora_mcp.longvideo.stitch import stitch

            paths = [Path(s.video_path or "") for s in segments]
            await anyio.to_thread.run_sync(stitch, paths, dest)
        thumbnail = await anyio.to_thread.run_sync(derive_image, dest, "thumbnail", out / f"{stem}.thumbnail.webp")
        sheet = await anyio.to_thread.run_sync(derive_image, dest, "spritesheet", out / f"{stem}.spritesheet.jpg")
        ledger = self.service.ledger
        await ledger.set_files(
            parent.tenant, parent.local_id, video_path=dest, thumbnail_path=thumbnail, spritesheet_path=sheet
        )
        # the plan's own row now reserves nothing: what was paid is its segments' cost
        return await ledger.update_from_provider(parent.tenant, parent.local_id, "completed", final_cost_usd=0.0)


def _mime(path: Path) -> str:
    return {".png": "image/png", ".webp": "image/webp"}.get(path.suffix.lower(), "image/jpeg")


def _link(source: Path, dest: Path) -> None:
    import os
    import shutil

    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, dest)


_RUNNERS: weakref.WeakKeyDictionary[VideoService, LongVideos] = weakref.WeakKeyDictionary()


def runner_for(service: VideoService) -> LongVideos:
    """The one runner of `service` (the status tool and the create tool must share its locks)."""
    runner = _RUNNERS.get(service)
    if runner is None:
        runner = _RUNNERS[service] = LongVideos(service)
    return runner
