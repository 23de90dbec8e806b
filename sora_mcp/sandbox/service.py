"""The Videos API's operations, independent of HTTP: accept jobs, render them in workers, serve their files.

Renders run in a thread pool so the event loop answering requests never waits on CPU work; a job's
completion time is the later of its scheduled time and the end of its render.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sora_mcp.catalog import ModelSpec
from sora_mcp.sandbox import errors, rules
from sora_mcp.sandbox.body import Upload
from sora_mcp.sandbox.config import SandboxConfig
from sora_mcp.sandbox.lifecycle import MODERATION_FAILURE, RENDER_FAILED, Failure, Phase, video_object
from sora_mcp.sandbox.probe import ProbeError, probe_video
from sora_mcp.sandbox.render import Assets, RenderCancelled, RenderSpec, Scene, render
from sora_mcp.sandbox.store import Job, JobKind, JobStore, SandboxState, new_id
from sora_mcp.sizes import Size

log = logging.getLogger(__name__)

MEDIA_TYPES: dict[rules.Variant, tuple[str, str]] = {
    "video": ("video/mp4", "mp4"),
    "thumbnail": ("image/webp", "webp"),
    "spritesheet": ("image/jpeg", "jpg"),
}


@dataclass(frozen=True)
class SourceVideo:
    """What a remix, edit or extension starts from: a completed job here, or an uploaded file."""

    video_id: str | None
    model_name: str
    spec: ModelSpec
    seconds: int
    size: Size
    scenes: tuple[Scene, ...]
    extension_steps: int

    @classmethod
    def of(cls, job: Job) -> SourceVideo:
        return cls(job.id, job.model_name, job.spec, job.seconds, job.size, job.scenes, job.extension_steps)


@dataclass(frozen=True)
class Content:
    """A downloadable file of a completed job."""

    video_id: str
    path: Path
    media_type: str
    filename: str


class SandboxService:
    """Owns the job store, the render pool and the folder of rendered files."""

    def __init__(self, config: SandboxConfig, storage_dir: Path | None, store: JobStore | None = None) -> None:
        self.config = config
        self.storage_dir = storage_dir
        self.store = store or JobStore()
        self._pool = ThreadPoolExecutor(max_workers=config.render_workers, thread_name_prefix="sandbox-render")
        self._closed = False

    # -- creating jobs -------------------------------------------------------------------------------

    def create(self, request: rules.CreateRequest) -> Job:
        reference = request.reference.data if request.reference else None
        job = Job(
            id=new_id("video"),
            kind="create",
            model_name=request.model_name,
            spec=request.model,
            seconds=request.seconds,
            billed_seconds=request.seconds,
            size=request.size,
            prompt=request.prompt,
            scenes=(Scene(0.0, request.prompt, reference),),
            created_at=self.store.clock(),
        )
        return self._accept(job)

    def derive(self, source: SourceVideo, kind: JobKind, prompt: str, added_seconds: int = 0) -> Job:
        """A remix, edit or extension of a completed job: same model and size; extensions add seconds."""
        if kind == "extend":
            scenes = (*source.scenes, Scene(float(source.seconds), prompt, None))
        else:
            scenes = tuple(Scene(s.start, prompt, s.reference) for s in source.scenes)
        seconds = source.seconds + added_seconds
        job = Job(
            id=new_id("video"),
            kind=kind,
            model_name=source.model_name,
            spec=source.spec,
            seconds=seconds,
            billed_seconds=added_seconds if kind == "extend" else seconds,
            size=source.size,
            prompt=prompt,
            scenes=scenes,
            created_at=self.store.clock(),
            source_video_id=source.video_id,
            remixed_from_video_id=source.video_id if kind == "remix" else None,
            extension_steps=source.extension_steps + (1 if kind == "extend" else 0),
        )
        return self._accept(job)

    def completed_source(self, video_id: str, action: str) -> SourceVideo:
        source = self.store.get(video_id)
        status = self.phase(source).status
        if status != "completed":
            raise errors.source_not_completed(video_id, status, action)
        return SourceVideo.of(source)

    def uploaded_source(self, upload: Upload) -> SourceVideo:
        """An uploaded video: the job it came from if the sandbox made it, else a source of its own."""
        try:
            probe = probe_video(upload.data)
        except ProbeError:
            raise errors.bad_request(errors.unreadable_video("video")) from None
        if probe.sandbox_video_id is not None:
            with contextlib.suppress(errors.Rejection):
                return self.completed_source(probe.sandbox_video_id, "used")
        if probe.width % 2 or probe.height % 2:
            raise errors.bad_request(errors.odd_video_size("video", probe.width, probe.height))
        model = self.config.catalog.models[0]
        return SourceVideo(
            video_id=None,
            model_name=model.id,
            spec=model,
            seconds=max(1, round(probe.seconds)),
            size=Size(probe.width, probe.height),
            scenes=(Scene(0.0, "", probe.first_frame_png),),
            extension_steps=0,
        )

    async def source(self, request: rules.SourcedRequest, action: str) -> SourceVideo:
        if request.video_file is not None:
            return await asyncio.to_thread(self.uploaded_source, request.video_file)
        assert request.video_id is not None
        return self.completed_source(request.video_id, action)

    def check_capacity(self) -> None:
        limit = self.config.faults.max_running_jobs
        if limit is not None and self.store.unfinished(self.config.job_wall_seconds) >= limit:
            raise errors.too_many_running_tasks(self.config.faults.retry_after_seconds)

    def _accept(self, job: Job) -> Job:
        self.store.add(job)
        if self.config.moderation_marker and self.config.moderation_marker in job.prompt:
            with self.store.lock:
                job.failure = MODERATION_FAILURE
                job.rendered_at = job.created_at
            return job
        if self._closed or self.storage_dir is None:
            raise errors.server_error(503)
        spec = RenderSpec(
            width=job.size.width,
            height=job.size.height,
            seconds=job.seconds,
            scenes=job.scenes,
            audio=job.spec.audio != "none",
            fps=self.config.fps,
            caption=job.model_name if job.kind == "create" else f"{job.model_name} · {job.kind}",
        )
        future = self._pool.submit(render, spec, self.storage_dir, job.id, job.cancel)
        future.add_done_callback(lambda done: self._rendered(job, done))
        return job

    def _rendered(self, job: Job, done: Future[Assets]) -> None:
        failure: Failure | None = None
        assets: Assets | None = None
        if done.cancelled():
            failure = Failure("internal_error", RENDER_FAILED)
        else:
            error = done.exception()
            if isinstance(error, RenderCancelled):
                failure = Failure("internal_error", RENDER_FAILED)
            elif error is not None:
                log.error("sandbox render of %s failed", job.id, exc_info=error)
                failure = Failure("internal_error", RENDER_FAILED)
            else:
                assets = done.result()
        with self.store.lock:
            job.assets = assets
            job.failure = failure
            job.rendered_at = self.store.clock()
            if job.deleted and assets is not None:
                _remove(assets)

    # -- reading -----------------------------------------------------------------------------------

    def phase(self, job: Job) -> Phase:
        with self.store.lock:
            return job.phase(self.store.clock(), self.config.job_wall_seconds)

    def video(self, job: Job, *, as_accepted: bool = False) -> dict[str, Any]:
        """The Video object now, or as it was at acceptance (a create always answers `queued`)."""
        if as_accepted:
            with self.store.lock:
                phase = job.phase(job.created_at, self.config.job_wall_seconds)
        else:
            phase = self.phase(job)
        return video_object(
            video_id=job.id,
            model=job.model_name,
            prompt=job.prompt,
            seconds=job.seconds,
            size=str(job.size),
            created_at=job.created_at,
            phase=phase,
            asset_ttl_seconds=self.config.asset_ttl_seconds,
            remixed_from_video_id=job.remixed_from_video_id,
        )

    def list(self, query: rules.ListQuery) -> dict[str, Any]:
        jobs, has_more = self.store.page(query.after, query.limit, query.order)
        data = [self.video(job) for job in jobs]
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": has_more,
        }

    def delete(self, video_id: str) -> dict[str, Any]:
        job = self.store.get(video_id)
        status = self.phase(job).status
        if status not in ("completed", "failed"):
            raise errors.delete_unfinished(video_id, status)
        self.store.mark_deleted(job)
        with self.store.lock:
            if job.assets is not None:
                _remove(job.assets)
        return {"id": video_id, "object": "video.deleted", "deleted": True}

    def content(self, video_id: str, variant: rules.Variant) -> Content:
        job = self.store.get(video_id)
        phase = self.phase(job)
        if phase.status == "failed":
            raise errors.failed_no_content(video_id)
        if phase.status != "completed" or job.assets is None or phase.completed_at is None:
            raise errors.not_ready(video_id, phase.status)
        if self.store.clock() >= phase.completed_at + self.config.asset_ttl_seconds:
            raise errors.content_expired(video_id)
        media_type, extension = MEDIA_TYPES[variant]
        path = {"video": job.assets.video, "thumbnail": job.assets.thumbnail, "spritesheet": job.assets.spritesheet}[
            variant
        ]
        return Content(video_id=video_id, path=path, media_type=media_type, filename=f"{video_id}.{extension}")

    def upload_file(self, upload: rules.FileUpload) -> dict[str, Any]:
        stored = self.store.add_file(upload.upload, upload.purpose)
        return {
            "id": stored.id,
            "object": "file",
            "bytes": len(upload.upload.data),
            "created_at": int(stored.created_at),
            "filename": upload.upload.filename or "upload",
            "purpose": upload.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }

    def state(self) -> SandboxState:
        return self.store.snapshot(self.config.job_wall_seconds)

    def reset(self) -> None:
        """Back to a fresh sandbox: no jobs, files, counts or faults (renders in flight are cancelled)."""
        for job in self.store.clear():
            job.cancel.set()
            with self.store.lock:
                job.deleted = True
                if job.assets is not None:
                    _remove(job.assets)
        self.config.faults.reset()

    def close(self) -> None:
        """Stop rendering (running renders notice within a frame) and wait for the workers."""
        self._closed = True
        for job in self.store.all_jobs():
            job.cancel.set()
        self._pool.shutdown(wait=True, cancel_futures=True)


def _remove(assets: Assets) -> None:
    for path in (assets.video, assets.thumbnail, assets.spritesheet):
        path.unlink(missing_ok=True)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
