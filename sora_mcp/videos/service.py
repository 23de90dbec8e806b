"""The video job lifecycle: record, create (never twice), wait within a bound, download exactly once.

Every step is ordered so nothing is lost: the job is written to the ledger before the create request
leaves; an ambiguous create is reconciled against the provider's recent jobs before any retry; a status
wait never outlasts the client's tool-call timeout; files are downloaded atomically the first time a job
is seen completed, and the ledger remembers them across restarts.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio

from sora_mcp.api_errors import ApiError
from sora_mcp.jobs.budget import BudgetExceeded
from sora_mcp.jobs.downloads import Body, DownloadError, download_once
from sora_mcp.jobs.ledger import JobKind, JobRecord, Ledger, request_fingerprint
from sora_mcp.jobs.polling import PollPolicy, RetrieveGate
from sora_mcp.runtime import Runtime
from sora_mcp.videos.backend import Backend, Connection
from sora_mcp.videos.provider import JobSnapshot, ProviderError, VideoVariant

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], Awaitable[None]]
"""Report (percent, message); the tool layer keeps the values strictly increasing."""

MAX_WAIT_SECONDS = 45.0
"""Claude Desktop cuts a tool call at about 60 s; 45 s leaves room for the download and the answer."""
CREATE_ATTEMPTS = 2
RECONCILE_WINDOW_SECONDS = 600.0
_EXTENSIONS = {"video/mp4": ".mp4", "image/webp": ".webp", "image/jpeg": ".jpg", "image/png": ".png"}
_DEFAULT_EXTENSION: dict[VideoVariant, str] = {"video": ".mp4", "thumbnail": ".webp", "spritesheet": ".jpg"}


class JobFailure(Exception):
    """A request that cannot go on; `error` is in the API's shape, `record` the ledger entry if one exists."""

    def __init__(self, error: ApiError, record: JobRecord | None = None, fix: str | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.record = record
        self.fix = fix


@dataclass(frozen=True)
class CreateOrder:
    kind: JobKind
    model: str
    seconds: int
    wire_seconds: str | int
    size: str
    prompt: str
    estimated_cost_usd: float | None
    parent_video_id: str | None = None
    reference: tuple[str, bytes, str] | None = None
    reference_path: Path | None = None


async def _no_progress(_percent: float, _message: str) -> None:
    return None


class VideoService:
    """Ledger + provider + downloads for one server process."""

    def __init__(self, runtime: Runtime, backend: Backend, policy: PollPolicy | None = None) -> None:
        self.runtime = runtime
        self.backend = backend
        self._ledger: Ledger | None = None
        self.policy = policy or PollPolicy()
        self.gate: RetrieveGate[JobSnapshot] = RetrieveGate(1.0)
        self._poll_hints: dict[str, float] = {}
        self._resumed = False

    @property
    def ledger(self) -> Ledger:
        """Opened on first use, so listing tools or validating never touches the disk."""
        if self._ledger is None:
            self._ledger = Ledger(self.runtime.settings.home / "ledger.sqlite3")
        return self._ledger

    async def close(self) -> None:
        """End of a session: stop the backend and close the ledger; both reopen if the server is used again."""
        await self.backend.close()
        ledger, self._ledger = self._ledger, None
        self._resumed = False
        if ledger is not None:
            ledger.sync.close()

    async def connection(self) -> Connection:
        connection = await self.backend.connect()
        if not self._resumed:
            self._resumed = True
            await self._reconcile_unresolved(connection)
        return connection

    # -- creating --------------------------------------------------------------------------------------------

    async def create(self, order: CreateOrder) -> JobRecord:
        """Record, then create once; reconcile an ambiguous failure before trying again."""
        settings = self.runtime.settings
        connection = await self.connection()
        reference_sha = hashlib.sha256(order.reference[1]).hexdigest() if order.reference else None
        try:
            record = await self.ledger.record_intent(
                kind=order.kind,
                backend=connection.label,
                base_url=connection.base_url if connection.sandbox is None else None,
                profile=self.runtime.catalog.profile,
                model=order.model,
                seconds=order.seconds,
                size=order.size,
                prompt=order.prompt,
                estimated_cost_usd=order.estimated_cost_usd,
                daily_limit_usd=settings.daily_budget_usd,
                parent_video_id=order.parent_video_id,
                reference_path=order.reference_path,
                reference_sha256=reference_sha,
            )
        except BudgetExceeded as exc:
            raise JobFailure(ApiError(message=str(exc), code="budget_exceeded", param=None)) from None

        last_error: ProviderError | None = None
        for attempt in range(CREATE_ATTEMPTS):
            try:
                snapshot = await self._send(connection, order)
            except ProviderError as exc:
                if not exc.ambiguous:
                    failed = await self.ledger.mark_create_failed(record.local_id, exc.error.code, exc.error.message)
                    raise JobFailure(exc.error, failed) from None
                last_error = exc
                logger.warning("create answer lost (%s); reconciling before any retry", exc.error.message)
                found = await self._find_own(connection, record)
                if found is not None:
                    return await self._attach(record, found)
                if attempt + 1 < CREATE_ATTEMPTS:
                    await anyio.sleep(min(2.0, 0.5 * (attempt + 1)))
                continue
            return await self._attach(record, snapshot)
        assert last_error is not None
        message = (
            f"{last_error.error.message} The job may or may not exist at the provider; it is recorded as job "
            f"'{record.local_id}' and will be matched against the provider's jobs before anything is created again. "
            f"Call get_video_status with video_id '{record.local_id}' in a minute."
        )
        raise JobFailure(ApiError(message=message, type="server_error", code="create_unconfirmed"), record)

    async def _send(self, connection: Connection, order: CreateOrder) -> JobSnapshot:
        provider = connection.provider
        if order.kind == "remix":
            assert order.parent_video_id is not None
            return await provider.remix(order.parent_video_id, order.prompt)
        if order.kind == "extend":
            assert order.parent_video_id is not None
            return await provider.extend(order.parent_video_id, order.prompt, order.wire_seconds)
        return await provider.create(
            model=order.model,
            prompt=order.prompt,
            seconds=order.wire_seconds,
            size=order.size,
            reference=order.reference,
        )

    async def _attach(self, record: JobRecord, snapshot: JobSnapshot) -> JobRecord:
        attached = await self.ledger.attach_video_id(
            record.local_id,
            snapshot.id,
            status="queued",
            progress=snapshot.progress,
            expires_at=snapshot.expires_at,
        )
        return await self._merge(attached, snapshot)

    def _matches(self, record: JobRecord, snapshot: JobSnapshot) -> bool:
        if snapshot.created_at < record.created_at - RECONCILE_WINDOW_SECONDS:
            return False
        if record.kind == "remix":
            return snapshot.remixed_from_video_id == record.parent_video_id and snapshot.prompt == record.prompt
        same_model = self.runtime.catalog.find(snapshot.model) is self.runtime.catalog.find(record.model)
        fingerprint = request_fingerprint(
            model=record.model if same_model else snapshot.model,
            seconds=snapshot.seconds,
            size=snapshot.size,
            prompt=snapshot.prompt or "",
            reference_sha256=record.reference_sha256,
            kind=record.kind,
            parent_video_id=record.parent_video_id,
        )
        return fingerprint == record.request_fingerprint

    async def _find_own(self, connection: Connection, record: JobRecord) -> JobSnapshot | None:
        """Our job among the provider's newest ones, unless another record already claimed it."""
        try:
            recent = await connection.provider.recent(limit=50)
        except ProviderError as exc:
            logger.warning("cannot list recent jobs to reconcile: %s", exc.error.message)
            return None
        for snapshot in recent:
            if self._matches(record, snapshot):
                owner = await self.ledger.get(snapshot.id)
                if owner is None or owner.local_id == record.local_id:
                    return snapshot
        return None

    async def _reconcile_unresolved(self, connection: Connection) -> None:
        """Jobs whose create answer was never recorded (a crash, a lost answer): find them or release them."""
        for record in await self.ledger.unresolved():
            if record.backend != connection.label:
                continue
            found = await self._find_own(connection, record)
            if found is not None:
                logger.info("reconciled job %s as %s", record.local_id, found.id)
                await self._attach(record, found)
            elif time.time() - record.created_at > RECONCILE_WINDOW_SECONDS:
                await self.ledger.mark_create_failed(
                    record.local_id, "create_unconfirmed", "The provider has no such job; nothing was billed."
                )

    # -- waiting ---------------------------------------------------------------------------------------------

    async def _merge(self, record: JobRecord, snapshot: JobSnapshot) -> JobRecord:
        assert record.video_id is not None
        return await self.ledger.update_from_provider(
            record.video_id,
            snapshot.status,
            progress=snapshot.progress,
            error_code=snapshot.error_code,
            error_message=snapshot.error_message,
            completed_at=snapshot.completed_at,
            expires_at=snapshot.expires_at,
            final_cost_usd=record.estimated_cost_usd if snapshot.status == "completed" else None,
        )

    async def lookup(self, video_id: str) -> JobRecord:
        record = await self.ledger.get(video_id)
        if record is not None:
            return record
        raise JobFailure(
            ApiError(
                message=f"No video found with id '{video_id}' in this server's job ledger.",
                type="not_found_error",
                param="video_id",
                code="not_found",
            ),
            fix="Call list_videos to see the jobs this server knows.",
        )

    async def refresh(self, record: JobRecord) -> JobRecord:
        """One retrieve (shared with concurrent callers, at most once a second per job) merged into the ledger."""
        if record.video_id is None:
            connection = await self.connection()
            found = await self._find_own(connection, record)
            return await self._attach(record, found) if found is not None else record
        if record.status not in ("queued", "in_progress"):
            return record
        connection = await self.connection()
        video_id = record.video_id
        try:
            snapshot = await self.gate.fetch(video_id, lambda: connection.provider.retrieve(video_id))
        except ProviderError as exc:
            if exc.status == 404:
                message = "The provider no longer knows this job" + (
                    " (the embedded sandbox forgets its jobs when the server restarts)."
                    if connection.sandbox is not None
                    else "."
                )
                return await self.ledger.update_from_provider(
                    video_id, "failed", error_code="not_found", error_message=message
                )
            raise
        if snapshot.poll_after_ms is not None:
            self._poll_hints[video_id] = snapshot.poll_after_ms
        return await self._merge(record, snapshot)

    async def wait(self, record: JobRecord, wait_seconds: float, progress: Progress = _no_progress) -> JobRecord:
        """Poll until the job ends or `wait_seconds` (at most 45) pass; report progress on the way."""
        deadline = anyio.current_time() + max(0.0, min(wait_seconds, MAX_WAIT_SECONDS))
        attempt = 0
        record = await self.refresh(record)
        while True:
            await progress(float(record.progress), f"{record.status}: {record.progress}%")
            if record.status not in ("creating", "queued", "in_progress"):
                return record
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                return record
            hint = self._poll_hints.get(record.video_id or "")
            delay = self.policy.delay(attempt, poll_after_ms=hint)
            await anyio.sleep(min(delay, remaining))
            attempt += 1
            record = await self.refresh(record)

    # -- downloading -----------------------------------------------------------------------------------------

    async def download(self, record: JobRecord, variant: VideoVariant) -> Path:
        """Fetch one asset into the output directory (atomically, once), retrying transient failures."""
        assert record.video_id is not None
        connection = await self.connection()
        video_id = record.video_id
        out_dir = self.runtime.settings.output_dir
        stem = video_id if variant == "video" else f"{video_id}.{variant}"
        import httpx2

        for extension in dict.fromkeys((_DEFAULT_EXTENSION[variant], *_EXTENSIONS.values())):
            existing = out_dir / (stem + extension)
            if existing.is_file():  # downloaded earlier (the ledger may not know yet): no request at all
                return existing
        last: Exception | None = None
        for attempt in range(4):
            try:
                async with connection.provider.download(video_id, variant) as stream:
                    media_type = stream.content_type.split(";")[0].strip()
                    dest = out_dir / (stem + _EXTENSIONS.get(media_type, _DEFAULT_EXTENSION[variant]))
                    body = Body(stream.chunks, stream.content_length)

                    @asynccontextmanager
                    async def opened(body: Body = body) -> AsyncIterator[Body]:
                        yield body

                    result = await download_once(dest, opened, expected_size=stream.content_length)
                    return result.path
            except ProviderError as exc:
                if not exc.transient:
                    raise
                last = exc
            except (DownloadError, httpx2.HTTPError) as exc:
                last = exc
            logger.info("download of %s %s failed (%s); retrying", video_id, variant, last)
            await anyio.sleep(0.5 * (2**attempt))
        assert last is not None
        if isinstance(last, ProviderError):
            raise last
        raise ProviderError(
            ApiError(message=f"Downloading the {variant} failed repeatedly: {last}", type="server_error"),
            status=None,
        )

    async def collect(self, record: JobRecord) -> JobRecord:
        """Download every asset of a completed job once; the ledger remembers the paths."""
        if record.status != "completed" or record.video_id is None or record.video_path:
            return record
        if record.assets_expired():
            return await self.ledger.update_from_provider(record.video_id, "expired")
        try:
            thumbnail = await self.download(record, "thumbnail")
            spritesheet = await self.download(record, "spritesheet")
            video = await self.download(record, "video")
        except ProviderError as exc:
            if exc.status in (404, 410) and "expire" in exc.error.message.lower():
                return await self.ledger.update_from_provider(record.video_id, "expired")
            raise
        return await self.ledger.set_files(
            record.video_id, video_path=video, thumbnail_path=thumbnail, spritesheet_path=spritesheet
        )
