"""The Videos API's operations, independent of HTTP: accept jobs, render them in workers, serve their files.

Renders run in a thread pool so the event loop answering requests never waits on CPU work; a job's
completion time is the later of its scheduled time and the end of its render.

Jobs are persisted (see `store`), so a render may be finished by another process than the one that accepted the
job: whichever process is asked about a job that has no finished render starts rendering it, under the job's
cross-process lock, so it is rendered once. A render stopped by a server shutdown is not a failure: it is left
for the next process that asks. Files are rendered in a private folder and moved into place atomically.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sora_mcp.catalog import ModelSpec
from sora_mcp.sandbox import errors, rules
from sora_mcp.sandbox.body import Upload
from sora_mcp.sandbox.config import SandboxConfig
from sora_mcp.sandbox.lifecycle import (
    CANCELLED_FAILURE,
    EXPIRED_FAILURE,
    MODERATION_FAILURE,
    RENDER_FAILED,
    Failure,
    Phase,
    video_object,
)
from sora_mcp.sandbox.probe import ProbeError, probe_video
from sora_mcp.sandbox.render import RenderCancelled, RenderSpec, Scene, render
from sora_mcp.sandbox.store import EXTENSIONS, Job, JobKind, JobStore, SandboxState, new_id, opaque_id
from sora_mcp.sizes import Size

log = logging.getLogger(__name__)

MEDIA_TYPES: dict[rules.Variant, tuple[str, str]] = {
    "video": ("video/mp4", EXTENSIONS[0]),
    "thumbnail": ("image/webp", EXTENSIONS[1]),
    "spritesheet": ("image/jpeg", EXTENSIONS[2]),
}
VARIANT_INDEX: dict[rules.Variant, int] = {"video": 0, "thumbnail": 1, "spritesheet": 2}
LAST_FRAME_SECONDS = 1.0
"""A last frame is shown (and held) for the final second of the video."""
NEW_API_PROGRESS: dict[str, int] = {"queued": 0, "in_progress": 50, "completed": 100, "failed": 0}
"""New-API gateways (APIYI) report progress coarsely: 0, 50, 100."""
SWEEP_GRACE_SECONDS = 600.0
"""Stray files (a crashed render's, another process's reset) are removed at start once this old."""


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
    def of(cls, job: Job, scenes: tuple[Scene, ...]) -> SourceVideo:
        return cls(job.id, job.model_name, job.spec, job.seconds, job.size, scenes, job.extension_steps)


@dataclass(frozen=True)
class Content:
    """A downloadable file of a completed job."""

    video_id: str
    path: Path
    media_type: str
    filename: str


class SandboxService:
    """Owns the job store, the render pool and the folder of rendered files."""

    def __init__(self, config: SandboxConfig, storage_dir: Path | None) -> None:
        self.config = config
        self.storage_dir = storage_dir
        self._store: JobStore | None = None
        self._pool = ThreadPoolExecutor(max_workers=config.render_workers, thread_name_prefix="sandbox-render")
        self._closed = False
        self._lock = threading.Lock()
        self._rendering: dict[str, threading.Event] = {}
        """Jobs this process has a render task for (queued or running), with the event that cancels it."""
        self._next_cleanup = 0.0
        self._final_state: SandboxState | None = None
        self.renders = 0
        """Renders this process finished (the test of "rendered once" across processes)."""

    def open(self) -> None:
        """Open (or create) the store in `storage_dir`, enforce the bounds and sweep stray files."""
        assert self.storage_dir is not None
        self._store = JobStore(self.storage_dir, {model.id: model for model in self.config.catalog.models})
        self._maybe_cleanup(force=True)
        swept = self._store.sweep(SWEEP_GRACE_SECONDS)
        if swept:
            log.info("sandbox removed %d stray files from %s", swept, self.storage_dir)

    @property
    def store(self) -> JobStore:
        if self._store is None:
            raise errors.server_error(503)
        return self._store

    # -- creating jobs -------------------------------------------------------------------------------

    def new_job_id(self) -> str:
        """A job id as the dialect's provider makes them: `video_…`, `task_…` (New-API) or 20 opaque characters."""
        dialect = self.config.wire
        if dialect == "openrouter":
            return opaque_id()
        return new_id("task" if dialect == "new-api" else "video")

    def create(self, request: rules.CreateRequest) -> Job:
        reference = request.reference.data if request.reference else None
        scenes = [Scene(0.0, request.prompt, reference)]
        if request.last_frame is not None:
            scenes.append(Scene(max(0.0, request.seconds - LAST_FRAME_SECONDS), request.prompt, request.last_frame))
        job = Job(
            id=self.new_job_id(),
            kind="create",
            model_name=request.model_name,
            spec=request.model,
            seconds=request.seconds,
            billed_seconds=request.seconds,
            size=request.size,
            prompt=request.prompt,
            created_at=self.store.clock(),
            duration=self.config.job_wall_seconds,
            ttl=self.config.asset_ttl_seconds,
            audio=request.audio,
            seed=request.seed,
        )
        return self._accept(job, tuple(scenes))

    def derive(self, source: SourceVideo, kind: JobKind, prompt: str, added_seconds: int = 0) -> Job:
        """A remix, edit or extension of a completed job: same model and size; extensions add seconds."""
        if kind == "extend":
            scenes = (*source.scenes, Scene(float(source.seconds), prompt, None))
        else:
            scenes = tuple(Scene(s.start, prompt, s.reference) for s in source.scenes)
        seconds = source.seconds + added_seconds
        job = Job(
            id=self.new_job_id(),
            kind=kind,
            model_name=source.model_name,
            spec=source.spec,
            seconds=seconds,
            billed_seconds=added_seconds if kind == "extend" else seconds,
            size=source.size,
            prompt=prompt,
            created_at=self.store.clock(),
            duration=self.config.job_wall_seconds,
            ttl=self.config.asset_ttl_seconds,
            source_video_id=source.video_id,
            remixed_from_video_id=source.video_id if kind == "remix" else None,
            extension_steps=source.extension_steps + (1 if kind == "extend" else 0),
        )
        return self._accept(job, scenes)

    def completed_source(self, video_id: str, action: str) -> SourceVideo:
        source = self.store.get(video_id)
        self._ensure_render(source)
        status = self.phase(source).status
        if status != "completed":
            raise errors.source_not_completed(video_id, status, action)
        return SourceVideo.of(source, self.store.scenes(video_id))

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
        if limit is not None and self.store.unfinished() >= limit:
            raise errors.too_many_running_tasks(self.config.faults.retry_after_seconds)

    def _failure_for(self, prompt: str) -> Failure | None:
        """The end a marker in the prompt asks for (output moderation; OpenRouter's cancelled and expired)."""
        config = self.config
        if config.moderation_marker and config.moderation_marker in prompt:
            return MODERATION_FAILURE
        if config.wire == "openrouter":
            if config.cancelled_marker and config.cancelled_marker in prompt:
                return CANCELLED_FAILURE
            if config.expired_marker and config.expired_marker in prompt:
                return EXPIRED_FAILURE
        return None

    def _accept(self, job: Job, scenes: tuple[Scene, ...]) -> Job:
        failure = self._failure_for(job.prompt)
        if failure is not None:
            job = replace(job, failure=failure, rendered_at=job.created_at)
        job = self.store.add(job, scenes)
        self._maybe_cleanup()
        if job.failure is not None:
            return job
        if self._closed:
            raise errors.server_error(503)
        self._ensure_render(job)
        return job

    # -- rendering -----------------------------------------------------------------------------------

    def _ensure_render(self, job: Job) -> None:
        """Start rendering a job nobody has rendered yet, unless this process already is (or is stopping)."""
        if not job.render_pending or self._closed:
            return
        with self._lock:
            if job.id in self._rendering:
                return
            cancel = self._rendering[job.id] = threading.Event()
        try:
            self._pool.submit(self._render_job, job.id, cancel)
        except RuntimeError:  # the pool shut down meanwhile: the next process will render it
            self._forget(job.id, cancel)

    def _forget(self, video_id: str, cancel: threading.Event) -> None:
        with self._lock:
            if self._rendering.get(video_id) is cancel:
                del self._rendering[video_id]

    def _cancel(self, video_id: str) -> None:
        with self._lock:
            cancel = self._rendering.get(video_id)
        if cancel is not None:
            cancel.set()

    def _render_job(self, video_id: str, cancel: threading.Event) -> None:
        store = self.store
        try:
            with store.render_lock(video_id) as held:
                if held:  # else another process (or thread) renders it right now
                    self._render_locked(store, video_id, cancel)
        except Exception:
            log.exception("sandbox render task for %s failed", video_id)
        finally:
            self._forget(video_id, cancel)

    def _render_locked(self, store: JobStore, video_id: str, cancel: threading.Event) -> None:
        job = store.find(video_id)  # fresh: another process may have finished it before we got the lock
        if job is None or not job.render_pending:
            store.drop_lock_file(video_id)
            return
        if cancel.is_set():
            return
        spec = RenderSpec(
            width=job.size.width,
            height=job.size.height,
            seconds=job.seconds,
            scenes=store.scenes(video_id),
            audio=job.has_audio,
            fps=self.config.fps,
            caption=job.model_name if job.kind == "create" else f"{job.model_name} · {job.kind}",
        )
        work = store.tmp / video_id
        remove_tree(work)  # what a crashed render left behind
        try:
            assets = render(spec, work, video_id, cancel)
        except RenderCancelled:  # stopped, deleted or reset: not a failure; the next process may render it
            remove_tree(work)
            return
        except Exception:
            remove_tree(work)
            if cancel.is_set():  # e.g. a reset removed the folder under it: cancelled, not failed
                return
            log.exception("sandbox render of %s failed", video_id)
            store.set_rendered(video_id, store.clock(), Failure("internal_error", RENDER_FAILED), 0)
            store.drop_lock_file(video_id)
            return
        size = 0
        for made, target in zip(
            (assets.video, assets.thumbnail, assets.spritesheet), store.render_paths(video_id), strict=True
        ):
            size += made.stat().st_size
            os.replace(made, target)  # atomic: a reader sees the whole file or none
        remove_tree(work)
        self._maybe_cleanup(force=True, reserve=size)  # make room first: the bound holds whenever it is seen
        if store.set_rendered(video_id, store.clock(), None, size):
            with self._lock:
                self.renders += 1
        else:  # deleted or reset meanwhile
            store.remove_render(video_id)
        store.drop_lock_file(video_id)

    def _maybe_cleanup(self, *, force: bool = False, reserve: int = 0) -> None:
        """Enforce the age and size bounds now and then (always at start and before recording a render)."""
        now = time.monotonic()
        with self._lock:
            if not force and now < self._next_cleanup:
                return
            self._next_cleanup = now + self.config.cleanup_interval_seconds
        try:
            done = self.store.cleanup(self.config.max_age_seconds, self.config.max_storage_bytes, reserve)
        except (sqlite3.Error, OSError, errors.Rejection):
            log.warning("sandbox cleanup failed; retrying later", exc_info=True)
            return
        for video_id in done.jobs_removed:
            self._cancel(video_id)
        if done.jobs_removed or done.renders_removed:
            log.info(
                "sandbox cleanup: %d jobs forgotten, %d renders removed, %d bytes freed",
                len(done.jobs_removed),
                len(done.renders_removed),
                done.bytes_freed,
            )

    # -- reading -----------------------------------------------------------------------------------

    def phase(self, job: Job) -> Phase:
        return job.phase(self.store.clock())

    def video(self, job: Job, *, as_accepted: bool = False) -> dict[str, Any]:
        """The Video object now, or as it was at acceptance (a create always answers `queued`)."""
        phase = job.phase(job.created_at) if as_accepted else self.phase(job)
        if self.config.wire == "new-api":
            return self._new_api_video(job, phase)
        return video_object(
            video_id=job.id,
            model=job.model_name,
            prompt=job.prompt,
            seconds=job.seconds,
            size=str(job.size),
            created_at=job.created_at,
            phase=phase,
            asset_ttl_seconds=job.ttl,
            remixed_from_video_id=job.remixed_from_video_id,
            purged_at=job.purged_at,
        )

    def _new_api_video(self, job: Job, phase: Phase) -> dict[str, Any]:
        """The OpenAI shape as New-API serves it: a `task_id` alias of the id, progress in coarse steps."""
        progress = NEW_API_PROGRESS[phase.status]
        video = video_object(
            video_id=job.id,
            model=job.model_name,
            prompt=job.prompt,
            seconds=job.seconds,
            size=str(job.size),
            created_at=job.created_at,
            phase=replace(phase, progress=progress),
            asset_ttl_seconds=job.ttl,
            remixed_from_video_id=job.remixed_from_video_id,
            purged_at=job.purged_at,
        )
        frame = job.spec.frame(str(job.size))
        return {
            "id": video.pop("id"),
            "task_id": job.id,
            **video,
            "metadata": {"resolution": frame.resolution, "aspect_ratio": frame.aspect_ratio} if frame else {},
        }

    def job(self, video_id: str) -> Job:
        """A live job (its render started if nobody has), or the 404."""
        self._maybe_cleanup()
        job = self.store.get(video_id)
        self._ensure_render(job)
        return job

    def retrieve(self, video_id: str) -> dict[str, Any]:
        self._maybe_cleanup()
        job = self.store.get(video_id)
        self._ensure_render(job)
        return self.video(job)

    def list(self, query: rules.ListQuery) -> dict[str, Any]:
        self._maybe_cleanup()
        jobs, has_more = self.store.page(query.after, query.limit, query.order)
        for job in jobs:
            self._ensure_render(job)
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
        self.store.mark_deleted(video_id)
        self._cancel(video_id)
        self.store.remove_render(video_id)
        return {"id": video_id, "object": "video.deleted", "deleted": True}

    def content(self, video_id: str, variant: rules.Variant) -> Content:
        self._maybe_cleanup()
        job = self.store.get(video_id)
        self._ensure_render(job)
        phase = self.phase(job)
        if phase.status == "failed":
            raise errors.failed_no_content(video_id)
        if phase.status != "completed" or phase.completed_at is None:
            raise errors.not_ready(video_id, phase.status)
        if job.purged_at is not None or self.store.clock() >= phase.completed_at + job.ttl:
            raise errors.content_expired(video_id)
        media_type, extension = MEDIA_TYPES[variant]
        path = self.store.render_paths(video_id)[VARIANT_INDEX[variant]]
        return Content(video_id=video_id, path=path, media_type=media_type, filename=f"{video_id}.{extension}")

    def asset_path(self, video_id: str, variant: rules.Variant) -> Path | None:
        """The finished file of a job on disk, when its content could be downloaded now; else None."""
        if self._store is None or self._closed:
            return None
        try:
            path = self.content(video_id, variant).path
        except errors.Rejection:
            return None
        return path if path.is_file() else None

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
        if self._store is None or self._closed:
            return self._final_state or SandboxState(jobs=(), requests={})
        return self._store.snapshot()

    def reset(self) -> None:
        """Back to a fresh sandbox: no jobs, files, counts or faults (renders in flight are cancelled).

        On a folder shared with other processes this forgets their jobs too.
        """
        with self._lock:
            running = list(self._rendering.values())
        for cancel in running:
            cancel.set()
        for video_id in self.store.clear():
            self.store.remove_render(video_id)
            self.store.drop_lock_file(video_id)
        self.config.faults.reset()

    def close(self) -> None:
        """Stop rendering (running renders notice within a frame and are left for the next process) and wait."""
        self._closed = True
        with self._lock:
            running = list(self._rendering.values())
        for cancel in running:
            cancel.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        store, self._store = self._store, None
        if store is not None:
            self._final_state = store.snapshot()
            store.close()


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
