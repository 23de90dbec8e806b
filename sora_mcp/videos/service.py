"""The video job lifecycle: check, record, create (never twice), wait within a bound, download exactly once.

Every step is ordered so nothing is lost and nothing is paid twice: the job is written to the ledger before
the create request leaves; an identical request (or the same idempotency key) gets the earlier job back; a
create whose answer is lost is reconciled against the provider's recent jobs and, when the provider cannot
be searched, recorded as `unknown` instead of being sent again; a status wait never outlasts the client's
tool-call timeout; files are downloaded atomically the first time a job is seen completed, and the ledger
remembers them across restarts. The tools above this module only turn arguments into calls and records
into views; every rule lives here and every refusal is a `ToolError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anyio

from sora_mcp.api_errors import ApiError
from sora_mcp.catalog import ModelSpec
from sora_mcp.errors import ErrorInfo, ErrorStage, ToolError
from sora_mcp.jobs.budget import BudgetExceeded, BudgetSnapshot
from sora_mcp.jobs.database import Location
from sora_mcp.jobs.downloads import Body, DownloadError, contained, download_once, remove_leftover_parts
from sora_mcp.jobs.errors import LedgerConflict
from sora_mcp.jobs.ledger import Ledger
from sora_mcp.jobs.polling import PollPolicy, ProgressClock, RetrieveGate
from sora_mcp.jobs.records import JobIntent, JobKind, JobRecord, request_fingerprint
from sora_mcp.request_schema import VideoSpec
from sora_mcp.runtime import Runtime
from sora_mcp.tenancy import LOCAL, Tenant, current_tenant
from sora_mcp.validation import Wish, check, wire_value
from sora_mcp.videos.backend import Backend, Connection
from sora_mcp.videos.provider import JobSnapshot, ProviderError, VideoVariant, file_stem
from sora_mcp.videos.views import fix_for, job_view

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], Awaitable[None]]
"""Report (percent, message); the tool layer keeps the values strictly increasing."""

MAX_WAIT_SECONDS = 45.0
"""Claude Desktop cuts a tool call at about 60 s; 45 s leaves room for the download and the answer."""
DEFAULT_WAIT_SECONDS = 3.0
"""The OpenAI Agents SDK cuts a tool call at 5 s by default: a 3 s wait returns a job id, never a timeout."""
CREATE_TIMEOUT_SECONDS = 40.0
LIST_TIMEOUT_SECONDS = 10.0
DOWNLOAD_TIMEOUT_SECONDS = 20.0
"""Bounds opening a download and each read of its body, not the whole transfer."""
RECONCILE_WINDOW_SECONDS = 600.0
DOWNLOAD_LEASE_SECONDS = 120.0
"""How long a download claimed by one process (or replica) keeps the others from starting the same download."""
OTHER_DOWNLOAD_WAIT_SECONDS = 10.0
"""How long a status call waits for another process's download to land before answering without the files."""
TENANT_BUDGET = "the daily budget your access token grants"
"""How a refusal names a tenant's own limit (set where its token is issued, not by a variable of this server)."""
RETRIEVE_INTERVAL_SECONDS = 1.0
"""At most one retrieve per job per second, across every caller in every process sharing the ledger."""
_EXTENSIONS = {"video/mp4": ".mp4", "image/webp": ".webp", "image/jpeg": ".jpg", "image/png": ".png"}
_DEFAULT_EXTENSION: dict[VideoVariant, str] = {"video": ".mp4", "thumbnail": ".webp", "spritesheet": ".jpg"}
_UNFINISHED = ("creating", "unknown", "queued", "in_progress")
UNSEARCHABLE = (
    "The create request was sent but its answer never arrived, and this provider cannot be searched (it has no "
    "job list), so whether the video was made is unknown. It is never sent again; the cost stays reserved for today."
)


@dataclass(frozen=True)
class CreateOrder:
    """One create, remix or extend request, checked against the catalog and priced."""

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
    audio: bool | None = None
    """Ask for audio (models whose audio is optional); None: the model's default."""
    seed: int | None = None
    last_frame: tuple[str, bytes, str] | None = None
    """The last frame, fitted to `size` exactly like the reference image (the first frame)."""
    last_frame_path: Path | None = None
    parent_id: str | None = None
    """The long video (kind `long`) this order is a segment of; `segment` is its index."""
    segment: int | None = None

    def options(self) -> dict[str, object]:
        """The per-model options that make two requests different (part of the ledger fingerprint)."""
        found: dict[str, object] = {}
        if self.audio is not None:
            found["audio"] = self.audio
        if self.seed is not None:
            found["seed"] = self.seed
        if self.last_frame is not None:
            found["last_frame_sha256"] = hashlib.sha256(self.last_frame[1]).hexdigest()
        return found


@dataclass(frozen=True)
class Created:
    record: JobRecord
    reused: bool
    """An identical earlier request (or the same idempotency key) already made this job: nothing was paid."""


@dataclass(frozen=True)
class Listing:
    records: tuple[JobRecord, ...]
    provider_budget: BudgetSnapshot
    sandbox_budget: BudgetSnapshot


async def _no_progress(_percent: float, _message: str) -> None:
    return None


class VideoService:
    """Ledger + provider + downloads for one server process."""

    def __init__(self, runtime: Runtime, backend: Backend, policy: PollPolicy | None = None) -> None:
        self.runtime = runtime
        self.backend = backend
        self._ledger: Ledger | None = None
        self.policy = policy or PollPolicy()
        self.gate: RetrieveGate[JobSnapshot | None] = RetrieveGate(RETRIEVE_INTERVAL_SECONDS)
        self._poll_hints: dict[str, float] = {}
        self._clocks: dict[str, ProgressClock] = {}
        self._collecting: dict[str, anyio.Lock] = {}
        self._asset_problems: dict[str, str] = {}
        self._resumed = False
        self._swept: set[Path] = set()

    @property
    def ledger(self) -> Ledger:
        """Connected on first use, so listing tools or validating never touches the disk or the database."""
        if self._ledger is None:
            settings = self.runtime.settings
            self._ledger = Ledger(Location.resolve(settings.database_url, settings.home), busy_timeout_s=5.0)
        return self._ledger

    def daily_limit(self, tenant: Tenant, sandbox: bool) -> float:
        """The tenant's own daily budget when its credential grants one, else the server's (the sandbox's
        simulated spend always has the server's sandbox budget)."""
        settings = self.runtime.settings
        if sandbox:
            return settings.sandbox_daily_budget_usd
        return settings.daily_budget_usd if tenant.daily_budget_usd is None else tenant.daily_budget_usd

    def output_dir(self, tenant_id: str) -> Path:
        """Where a tenant's files go: the output folder itself for the local tenant, else a folder in it."""
        out = self.runtime.settings.output_dir
        return out if tenant_id == LOCAL.id else out / Tenant(tenant_id).folder

    async def close(self) -> None:
        """End of a session: stop the backend and close the ledger; both reopen if the server is used again."""
        await self.backend.close()
        ledger, self._ledger = self._ledger, None
        self._resumed = False
        if ledger is not None:
            await ledger.close()

    async def connection(self) -> Connection:
        connection = await self.backend.connect()
        if not self._resumed:
            self._resumed = True
            try:
                await anyio.to_thread.run_sync(remove_leftover_parts, self.runtime.settings.output_dir)
            except OSError as exc:  # a read-only folder is reported when a download needs it
                logger.warning("could not clean partial downloads in the output folder: %s", exc)
            with anyio.move_on_after(10):
                await self._reconcile_unresolved(connection)
        return connection

    def label(self) -> str:
        return self.runtime.backend_label

    def _job(self, record: JobRecord) -> dict[str, Any]:
        return job_view(record, self.label()).model_dump(mode="json", exclude_none=True)

    def _refuse(
        self,
        stage: ErrorStage,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        fix: str | None = None,
        record: JobRecord | None = None,
        legal_values: list[Any] | None = None,
    ) -> ToolError:
        return ToolError.of(
            stage,
            self.runtime.scrub(message),
            code=code,
            param=param,
            fix=fix,
            legal_values=legal_values,
            job=self._job(record) if record is not None else None,
        )

    def _provider_failure(self, exc: ProviderError, record: JobRecord | None = None) -> ToolError:
        info = exc.problem()
        fix = info.fix or fix_for(exc.error.code, exc.error.message)
        return ToolError(
            info.model_copy(
                update={
                    "message": self.runtime.scrub(info.message),
                    "fix": fix,
                    "job": self._job(record) if record is not None else None,
                }
            )
        )

    # -- planning --------------------------------------------------------------------------------------------

    def plan_create(
        self,
        prompt: str,
        video: VideoSpec,
        reference: tuple[str, bytes, str] | None = None,
        reference_path: Path | None = None,
        last_frame: tuple[str, bytes, str] | None = None,
        last_frame_path: Path | None = None,
    ) -> CreateOrder:
        """A create order for a (schema-valid) video spec; a retired or unusable model is refused here.

        The spec's per-model options (`audio`, `seed`; `last_frame` arrives fitted) go into the order only
        where the model takes them; the price follows `audio`.
        """
        model, seconds = self._legal(video)
        audio = getattr(video, "audio", None)
        seed = getattr(video, "seed", None)
        audio = audio if isinstance(audio, bool) and model.audio == "optional" else None
        seed = seed if isinstance(seed, int) and not isinstance(seed, bool) and model.seed else None
        if last_frame is not None and "last_frame" not in model.frame_images:
            raise self._refuse(
                "request",
                f"Model '{model.id}' does not take a last frame.",
                code="unsupported",
                param="video.last_frame",
                fix="Leave last_frame out, or pick a model whose frame images include last_frame (list_models).",
            )
        if not prompt.strip():
            raise self._refuse(
                "request",
                "The prompt is blank.",
                code="invalid_value",
                param="prompt",
                fix="Describe the video: subject, action, setting, camera, lighting.",
            )
        return CreateOrder(
            kind="create",
            model=video.model,
            seconds=seconds,
            wire_seconds=wire_value(model, seconds),
            size=video.size,
            prompt=prompt,
            estimated_cost_usd=model.cost(seconds, video.size, audio=bool(audio)),
            reference=reference,
            reference_path=reference_path,
            audio=audio,
            seed=seed,
            last_frame=last_frame,
            last_frame_path=last_frame_path,
        )

    def _legal(self, video: VideoSpec) -> tuple[ModelSpec, int]:
        verdict = check(self.runtime.catalog, Wish(model=video.model, seconds=str(video.seconds), size=video.size))
        model = self.runtime.catalog.find(video.model)
        request = verdict.request
        if verdict.valid and model is not None and request is not None and request.size == video.size:
            return model, request.seconds
        error = verdict.errors[0] if verdict.errors else ApiError(message=f"Invalid value: '{video.size}'.")
        nearest = request.model_dump(mode="json", exclude_none=True) if request is not None else None
        raise ToolError(
            ErrorInfo(
                stage="request",
                message=error.message,
                code=error.code,
                param=f"video.{error.param}" if error.param else "video",
                fix="Send the nearest legal request as video, or ask validate_params for other options.",
                nearest_request=nearest,
            )
        )

    async def plan_derive(
        self, parent_id: str, prompt: str, kind: Literal["remix", "extend"], seconds: int = 0
    ) -> CreateOrder:
        """A remix or extension of a completed video, within the model's extension limits."""
        parent = await self.lookup(parent_id)
        if parent.status != "completed" or parent.video_id is None:
            raise self._refuse(
                "job",
                f"Video '{parent_id}' is {parent.status}; only a completed video can be used.",
                code="invalid_value",
                param="video_id",
                fix="Wait with get_video_status until it completes.",
                record=parent,
            )
        model = self.runtime.catalog.find(parent.model)
        if model is None:
            raise self._refuse(
                "request",
                f"Model '{parent.model}' is not in the active catalog '{self.runtime.catalog.profile}'.",
                param="video_id",
                fix="Switch back to the profile that made the video (SORA_MCP_PROFILE).",
            )
        dialect = self.runtime.dialect
        if not (dialect.can_remix if kind == "remix" else dialect.can_extend):
            what = "Remixing a video" if kind == "remix" else "Extending a video"
            raise self._refuse(
                "request",
                dialect.unsupported(what),
                code="unsupported",
                param="video_id",
                fix="Make a new video with create_video instead (describe the change in its prompt).",
            )
        if kind == "remix":
            return CreateOrder(
                kind="remix",
                model=parent.model,
                seconds=parent.seconds,
                wire_seconds=wire_value(model, parent.seconds),
                size=parent.size,
                prompt=prompt,
                estimated_cost_usd=model.cost(parent.seconds, parent.size),
                parent_video_id=parent.video_id,
            )
        await self._check_extension(parent, model, seconds)
        return CreateOrder(
            kind="extend",
            model=parent.model,
            seconds=parent.seconds + seconds,
            wire_seconds=wire_value(model, seconds),
            size=parent.size,
            prompt=prompt,
            estimated_cost_usd=model.cost(seconds, parent.size),
            parent_video_id=parent.video_id,
        )

    async def _check_extension(self, parent: JobRecord, model: ModelSpec, seconds: int) -> None:
        limits = model.extension
        if limits is None:
            raise self._refuse(
                "request",
                f"Model '{model.id}' cannot be extended under profile '{self.runtime.catalog.profile}'.",
                code="unsupported",
                param="video_id",
                fix="Use remix_video, or create a longer video with create_video.",
            )
        steps = 0
        current: JobRecord | None = parent
        while current is not None and current.kind == "extend" and current.parent_video_id:
            steps += 1
            current = await self.ledger.get(parent.tenant, current.parent_video_id)
        if not 1 <= seconds <= limits.max_step_seconds:
            raise self._refuse(
                "request",
                f"seconds must be 1 to {limits.max_step_seconds} per extension, got {seconds}.",
                code="invalid_value",
                param="seconds",
                legal_values=[1, limits.max_step_seconds],
                fix=f"Send seconds between 1 and {limits.max_step_seconds}.",
            )
        if steps + 1 > limits.max_steps:
            raise self._refuse(
                "request",
                f"A video can be extended at most {limits.max_steps} times; this one has been extended {steps} times.",
                code="invalid_value",
                param="video_id",
                fix="Extend the original video instead, or create a new one.",
            )
        if parent.seconds + seconds > limits.max_total_seconds:
            room = limits.max_total_seconds - parent.seconds
            raise self._refuse(
                "request",
                f"Extending {parent.seconds} s by {seconds} s would pass the {limits.max_total_seconds} s limit; "
                f"at most {room} s can be added.",
                code="invalid_value",
                param="seconds",
                fix=f"Send seconds={room} or less." if room > 0 else "This video cannot be extended any further.",
            )

    # -- creating --------------------------------------------------------------------------------------------

    async def create(self, order: CreateOrder, idempotency_key: str | None = None) -> Created:
        """Record (or find the identical earlier job), then send the create once; a lost answer is reconciled."""
        settings = self.runtime.settings
        connection = await self.connection()
        reference_sha = hashlib.sha256(order.reference[1]).hexdigest() if order.reference else None
        sandbox = connection.sandbox is not None
        tenant = current_tenant()
        intent = JobIntent(
            kind=order.kind,
            backend=connection.label,
            base_url=None if sandbox else connection.base_url,
            profile=self.runtime.catalog.profile,
            model=order.model,
            seconds=order.seconds,
            size=order.size,
            prompt=order.prompt,
            estimated_cost_usd=order.estimated_cost_usd,
            parent_video_id=order.parent_video_id,
            reference_path=None if order.reference_path is None else str(order.reference_path),
            reference_sha256=reference_sha,
            idempotency_key=idempotency_key,
            options=order.options() or None,
            parent_id=order.parent_id,
            segment=order.segment,
        )
        started = time.time()
        try:
            record = await self.ledger.record_intent(
                tenant.id,
                intent,
                daily_limit_usd=self.daily_limit(tenant, sandbox),
                duplicate_window_s=settings.duplicate_window_seconds,
                limit_source=None if sandbox or tenant.daily_budget_usd is None else TENANT_BUDGET,
            )
        except BudgetExceeded as exc:
            raise self._refuse(
                "budget",
                str(exc),
                code="budget_exceeded",
                fix=f"Wait for the next UTC day, or raise {exc.setting}. Failed jobs do not count.",
            ) from None
        except LedgerConflict as exc:
            raise self._refuse(
                "request",
                str(exc),
                code="idempotency_key_reused",
                param="idempotency_key",
                fix="Use a new idempotency_key for a different request.",
            ) from None
        if record.created_at < started or record.status != "creating" or record.video_id is not None:
            logger.info("identical request: returning job %s instead of creating again", record.local_id)
            return Created(record, reused=True)
        if order.kind == "long":  # a plan: recorded and reserved here, its segments are sent one by one
            return Created(record, reused=False)
        return Created(await self._send_once(connection, record, order), reused=False)

    async def _send_once(self, connection: Connection, record: JobRecord, order: CreateOrder) -> JobRecord:
        try:
            snapshot = await self._send(connection, order)
        except ProviderError as exc:
            if not exc.ambiguous:
                failed = await self.ledger.mark_create_failed(
                    record.tenant, record.local_id, exc.error.code, self.runtime.scrub(exc.error.message)
                )
                raise self._provider_failure(exc, failed) from None
            logger.warning("create answer lost (%s); never re-sending", exc.error.message)
            return await self._settle(connection, record, exc)
        attached = await self._attach(record, snapshot)
        if attached is not None:
            return attached
        # The id is already held by a concurrent identical request whose own answer was lost and whose
        # reconciliation took this job: ours is the other one the provider made. Never hand out someone else's
        # video, never fail: find ours, else keep the job unknown until reconciliation attaches it.
        twin = ProviderError(
            ApiError(message="The provider's answer named a job another request already holds.", type="server_error"),
            status=None,
            ambiguous=True,
        )
        return await self._settle(connection, record, twin)

    async def _settle(self, connection: Connection, record: JobRecord, exc: ProviderError) -> JobRecord:
        """A create whose own answer cannot be used: our job from the provider's list, else `unknown`."""
        if not connection.provider.can_list:
            return await self._unknown(record, exc, searchable=False, can_search=False)
        found, searchable = await self._find_own(connection, record)
        if found is not None:
            attached = await self._attach(record, found)
            if attached is not None:
                return attached
        return await self._unknown(record, exc, searchable)

    async def _unknown(
        self, record: JobRecord, exc: ProviderError, searchable: bool, can_search: bool = True
    ) -> JobRecord:
        """Record a create whose outcome is unknown (cost reserved, never re-sent) and tell the agent what next."""
        lost = self.runtime.scrub(exc.error.message)
        if not can_search:
            message = (
                f"{lost} The provider may or may not have made the video, and it cannot be searched (it has no job "
                "list), so sora-mcp can never find out by itself. It was NOT sent again, so nothing is paid twice: "
                f"job '{record.local_id}' stays unknown with its cost reserved for today."
            )
            fix = (
                "Do not create it again blindly: an identical create_video returns this job. Check the provider's "
                "own activity or usage page for a video made just now; if there is none, create it again with a new "
                "idempotency_key (a deliberate second take, paid again)."
            )
        else:
            why = "its recent jobs could not be listed" if not searchable else "the job is not listed yet"
            message = (
                f"{lost} The provider may or may not have made the video; {why}. It was NOT sent again, so nothing "
                f"is paid twice: job '{record.local_id}' keeps its cost reserved until the provider's job list shows "
                "it (then it is attached) or, after 10 minutes without it, the reservation is released."
            )
            fix = (
                f"Call get_video_status with video_id '{record.local_id}' in a minute (or list_videos with "
                "refresh=true). Do not create it again: an identical create_video returns this job."
            )
        unknown = await self.ledger.mark_unknown(record.tenant, record.local_id, "create_unconfirmed", message)
        raise self._refuse("provider", message, code="create_unconfirmed", fix=fix, record=unknown)

    async def _send(self, connection: Connection, order: CreateOrder) -> JobSnapshot:
        provider = connection.provider
        if order.kind == "remix":
            assert order.parent_video_id is not None
            return await provider.remix(order.parent_video_id, order.prompt, timeout=CREATE_TIMEOUT_SECONDS)
        if order.kind == "extend":
            assert order.parent_video_id is not None
            return await provider.extend(
                order.parent_video_id, order.prompt, order.wire_seconds, timeout=CREATE_TIMEOUT_SECONDS
            )
        return await provider.create(
            model=order.model,
            prompt=order.prompt,
            seconds=order.seconds,
            size=order.size,
            reference=order.reference,
            timeout=CREATE_TIMEOUT_SECONDS,
            audio=order.audio,
            seed=order.seed,
            last_frame=order.last_frame,
            spec=self.runtime.catalog.find(order.model),
        )

    async def _attach(self, record: JobRecord, snapshot: JobSnapshot) -> JobRecord | None:
        """Give the job its provider id; None when another job already owns that id (a concurrent twin)."""
        try:
            attached = await self.ledger.attach_video_id(
                record.tenant,
                record.local_id,
                snapshot.id,
                status="queued",
                progress=snapshot.progress,
                expires_at=snapshot.expires_at,
            )
        except LedgerConflict as exc:
            logger.warning("not attaching %s to job %s: %s", snapshot.id, record.local_id, exc)
            return None
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
            plan=None if record.parent_id is None or record.segment is None else (record.parent_id, record.segment),
        )
        return fingerprint == record.request_fingerprint

    async def _find_own(self, connection: Connection, record: JobRecord) -> tuple[JobSnapshot | None, bool]:
        """(our job among the provider's newest ones unless another record claimed it, whether listing worked)."""
        try:
            recent = await connection.provider.recent(limit=50, timeout=LIST_TIMEOUT_SECONDS)
        except ProviderError as exc:
            logger.warning("cannot list recent jobs to reconcile: %s", exc.error.message)
            return None, False
        for snapshot in recent:
            if self._matches(record, snapshot):
                owner = await self.ledger.get(record.tenant, snapshot.id)
                if owner is None or owner.local_id == record.local_id:
                    return snapshot, True
        return None, True

    async def _reconcile(self, connection: Connection, record: JobRecord) -> JobRecord:
        """Attach a job whose create answer was lost, or release it once the provider has surely not got it.

        A provider that cannot be searched leaves the job unknown (its cost reserved): nothing can tell.
        """
        if not connection.provider.can_list:
            stale = time.time() - record.created_at > CREATE_TIMEOUT_SECONDS + 5  # no create of ours is in flight
            if record.status == "creating" and stale:  # a crash between recording and the answer: say so
                return await self.ledger.mark_unknown(
                    record.tenant, record.local_id, "create_unconfirmed", UNSEARCHABLE
                )
            return record
        found, searchable = await self._find_own(connection, record)
        if found is not None:
            attached = await self._attach(record, found)
            if attached is not None:
                logger.info("reconciled job %s as %s", record.local_id, found.id)
                return attached
        if searchable and time.time() - record.created_at > RECONCILE_WINDOW_SECONDS:
            return await self.ledger.mark_create_failed(
                record.tenant,
                record.local_id,
                "create_unconfirmed",
                "The provider has no such job; nothing was billed.",
            )
        return record

    async def _reconcile_unresolved(self, connection: Connection) -> None:
        """Jobs whose create answer was never recorded (a crash, a lost answer): find them or release them."""
        for record in await self.ledger.unresolved(min_age_s=5.0):
            if record.backend == connection.label:
                await self._reconcile(connection, record)

    # -- waiting ---------------------------------------------------------------------------------------------

    async def _merge(self, record: JobRecord, snapshot: JobSnapshot) -> JobRecord:
        assert record.video_id is not None
        return await self.ledger.update_from_provider(
            record.tenant,
            record.video_id,
            snapshot.status,
            progress=snapshot.progress,
            error_code=snapshot.error_code,
            error_message=self.runtime.scrub(snapshot.error_message) if snapshot.error_message else None,
            completed_at=snapshot.completed_at,
            expires_at=snapshot.expires_at,
            final_cost_usd=(
                (snapshot.cost_usd if snapshot.cost_usd is not None else record.estimated_cost_usd)
                if snapshot.status == "completed"
                else None
            ),
        )

    async def lookup(self, video_id: str) -> JobRecord:
        record = await self.ledger.get(current_tenant().id, video_id)
        if record is not None:
            return record
        raise self._refuse(
            "job",
            f"No video found with id '{video_id}' in this server's job ledger.",
            code="not_found",
            param="video_id",
            fix="Call list_videos to see the jobs this server knows.",
        )

    async def refresh(self, record: JobRecord, timeout: float = 10.0) -> JobRecord:
        """One retrieve (shared with concurrent callers, at most once a second per job) merged into the ledger.

        `timeout` bounds the provider call; a caller that joins another's retrieve waits at most as long.
        """
        if record.kind == "long":  # never sent anywhere: its segments are the provider's jobs
            return record
        if record.video_id is None:
            if record.status not in ("creating", "unknown"):
                return record
            return await self._reconcile(await self.connection(), record)
        if record.status not in ("queued", "in_progress"):
            return record
        connection = await self.connection()
        video_id = record.video_id

        async def retrieve() -> JobSnapshot | None:
            if not await self.ledger.claim_retrieve(record.tenant, video_id, RETRIEVE_INTERVAL_SECONDS):
                return None  # another process asked a moment ago: its answer is in the ledger
            return await connection.provider.retrieve(video_id, timeout=timeout)

        try:
            snapshot = await self.gate.fetch(video_id, retrieve)
        except ProviderError as exc:
            if exc.status == 404:
                return await self.ledger.update_from_provider(
                    record.tenant,
                    video_id,
                    "failed",
                    error_code="not_found",
                    error_message="The provider no longer knows this job.",
                )
            raise self._provider_failure(exc, record) from None
        if snapshot is None:
            return await self.ledger.get(record.tenant, video_id) or record
        if snapshot.poll_after_ms is not None:
            self._poll_hints[video_id] = snapshot.poll_after_ms
        if connection.provider.has_progress and snapshot.status == "in_progress":
            self._clocks.setdefault(video_id, ProgressClock()).observe(anyio.current_time(), snapshot.progress)
        elif snapshot.status != "queued":
            self._clocks.pop(video_id, None)
        return await self._merge(record, snapshot)

    async def wait(self, record: JobRecord, wait_seconds: float, progress: Progress = _no_progress) -> JobRecord:
        """Poll until the job ends or `wait_seconds` (at most 45) pass; a stalled provider never holds the call."""
        deadline = anyio.current_time() + max(0.0, min(wait_seconds, MAX_WAIT_SECONDS))
        attempt = 0
        # A status the provider gave under a second ago (the create's own answer) needs no retrieve yet.
        fresh = record.video_id is not None and 0 <= time.time() - record.updated_at < RETRIEVE_INTERVAL_SECONDS
        while True:
            budget = max(1.0, deadline - anyio.current_time())
            if not fresh:
                with anyio.move_on_after(budget + 0.5):
                    record = await self.refresh(record, timeout=budget)
            fresh = False
            await progress(float(record.progress), f"{record.status}: {record.progress}%")
            if record.status not in _UNFINISHED:
                return record
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                return record
            hint = self._poll_hints.get(record.video_id or "")
            clock = self._clocks.get(record.video_id or "")
            left = clock.seconds_left(anyio.current_time()) if clock is not None else None
            await anyio.sleep(min(self.policy.delay(attempt, poll_after_ms=hint, seconds_left=left), remaining))
            attempt += 1

    async def status(self, video_id: str, wait_seconds: float, progress: Progress = _no_progress) -> JobRecord:
        """The job after waiting, with its files downloaded when it completed."""
        record = await self.wait(await self.lookup(video_id), wait_seconds, progress)
        return await self.collect(record)

    # -- downloading -----------------------------------------------------------------------------------------

    async def download(self, record: JobRecord, variant: VideoVariant) -> Path:
        """Fetch one asset into the output directory (atomically, once), retrying transient failures."""
        assert record.video_id is not None
        connection = await self.connection()
        video_id = record.video_id
        out_dir = self.output_dir(record.tenant)
        if out_dir not in self._swept and record.tenant != LOCAL.id:  # the local folder is swept on connecting
            self._swept.add(out_dir)
            with contextlib.suppress(OSError):
                await anyio.to_thread.run_sync(remove_leftover_parts, out_dir)
        name = file_stem(video_id)  # an id is never a path: a LiteLLM base64 id is named by its hash
        stem = name if variant == "video" else f"{name}.{variant}"
        for extension in dict.fromkeys((_DEFAULT_EXTENSION[variant], *_EXTENSIONS.values())):
            existing = out_dir / (stem + extension)
            if existing.is_file():  # downloaded earlier (the ledger may not know yet): no request at all
                return existing
        local = connection.asset_path(video_id, variant)
        if local is not None:
            return await anyio.to_thread.run_sync(_link_or_copy, local, out_dir / (stem + local.suffix))
        if variant != "video" and not connection.provider.dialect.has_variants:
            return await self._derived(record, variant, out_dir / (stem + _DEFAULT_EXTENSION[variant]))
        import httpx2

        last: Exception | None = None
        for attempt in range(4):
            try:
                async with connection.provider.download(video_id, variant, timeout=DOWNLOAD_TIMEOUT_SECONDS) as stream:
                    media_type = stream.content_type.split(";")[0].strip()
                    dest = contained(out_dir, stem + _EXTENSIONS.get(media_type, _DEFAULT_EXTENSION[variant]))
                    body = Body(stream.chunks, stream.content_length)

                    @asynccontextmanager
                    async def opened(body: Body = body) -> AsyncIterator[Body]:
                        yield body

                    result = await download_once(dest, opened, expected_size=stream.content_length, within=out_dir)
                    if variant != "video" and await anyio.to_thread.run_sync(_is_mp4, result.path):
                        # a gateway dropped `variant` (LiteLLM) and sent the video: make the image from it
                        connection.provider.gateway = connection.provider.gateway or "drops-variant"
                        target = out_dir / (stem + _DEFAULT_EXTENSION[variant])
                        try:
                            return await anyio.to_thread.run_sync(derive_image, result.path, variant, target)
                        finally:
                            result.path.unlink(missing_ok=True)
                    return result.path
            except ProviderError as exc:
                if not exc.transient:
                    raise
                last = exc
            except DownloadError as exc:
                if exc.code in ("disk_error", "unsafe_path"):
                    raise self._storage_failure(exc, record) from None
                last = exc
            except OSError as exc:
                raise self._storage_failure(exc, record) from None
            except httpx2.HTTPError as exc:
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

    async def _derived(self, record: JobRecord, variant: VideoVariant, dest: Path) -> Path:
        """A thumbnail or spritesheet made from the job's MP4, for providers that serve only the video."""
        video = record.video_path
        if video is None or not Path(video).is_file():
            video_path = await self.download(record, "video")
        else:
            video_path = Path(video)
        try:
            return await anyio.to_thread.run_sync(derive_image, video_path, variant, dest)
        except Exception as exc:
            raise ProviderError(
                ApiError(message=f"The {variant} could not be made from the video: {exc}", type="server_error"),
                status=None,
            ) from None

    def _storage_failure(self, exc: OSError | DownloadError, record: JobRecord) -> ToolError:
        folder = self.runtime.settings.output_dir
        if isinstance(exc, DownloadError):
            reason = str(exc).rstrip(".")
        else:
            reason = (os.strerror(exc.errno) if exc.errno else str(exc)) + f" in {folder}"
        return self._refuse(
            "storage",
            f"{reason}: the video is done at the provider but could not be saved. The job is kept.",
            code="storage_error",
            fix=f"Free space in (or fix the permissions of) {folder}, then call get_video_status again.",
            record=record,
        )

    async def collect(self, record: JobRecord) -> JobRecord:
        """Download every asset of a completed job once, single-flight per job; the ledger remembers the paths."""
        if record.status != "completed" or record.video_id is None or record.video_path:
            return record
        lock = self._collecting.setdefault(record.video_id, anyio.Lock())
        async with lock:
            record = await self.ledger.get(record.tenant, record.video_id) or record
            if record.video_path or record.video_id is None:
                return record
            if record.assets_expired():
                return await self.ledger.update_from_provider(record.tenant, record.video_id, "expired")
            if not await self.ledger.claim_download(record.tenant, record.video_id, DOWNLOAD_LEASE_SECONDS):
                return await self._downloaded_elsewhere(record)
            try:
                return await self._collect_claimed(record)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self.ledger.release_download(record.tenant, record.video_id)
                raise

    async def _collect_claimed(self, record: JobRecord) -> JobRecord:
        assert record.video_id is not None
        try:
            video = await self.download(record, "video")
        except ProviderError as exc:
            if exc.status in (404, 410) and "expire" in exc.error.message.lower():
                return await self.ledger.update_from_provider(record.tenant, record.video_id, "expired")
            raise self._provider_failure(exc, record) from None
        images = {variant: await self._image_asset(record, variant) for variant in ("thumbnail", "spritesheet")}
        return await self.ledger.set_files(
            record.tenant,
            record.video_id,
            video_path=video,
            thumbnail_path=images["thumbnail"],
            spritesheet_path=images["spritesheet"],
        )

    async def _downloaded_elsewhere(self, record: JobRecord) -> JobRecord:
        """Another process (a replica) is downloading this job: its files, once the ledger has them, briefly."""
        assert record.video_id is not None
        with anyio.move_on_after(OTHER_DOWNLOAD_WAIT_SECONDS):
            while not record.video_path:
                await anyio.sleep(0.2)
                record = await self.ledger.get(record.tenant, record.video_id) or record
        return record

    async def _image_asset(self, record: JobRecord, variant: Literal["thumbnail", "spritesheet"]) -> Path | None:
        """A thumbnail or spritesheet is a bonus: a broken one is reported, never a reason to fail the job."""
        from sora_mcp.assets import check_image_asset

        assert record.video_id is not None
        try:
            path = await self.download(record, variant)
        except (ProviderError, ToolError) as exc:
            self._asset_problems[f"{record.video_id}:{variant}"] = str(exc)
            logger.warning("the %s of %s is unusable: %s", variant, record.video_id, exc)
            return None
        problem = await anyio.to_thread.run_sync(
            lambda: check_image_asset(path, max_bytes=20_000_000, max_pixels=40_000_000)
        )
        if problem is not None:
            self._asset_problems[f"{record.video_id}:{variant}"] = problem
            logger.warning("the %s of %s is unusable: %s", variant, record.video_id, problem)
            path.unlink(missing_ok=True)
            return None
        return path

    def asset_problems(self, record: JobRecord) -> list[str]:
        """Why a thumbnail or spritesheet is missing, for the result's text."""
        found = []
        for variant in ("thumbnail", "spritesheet"):
            problem = self._asset_problems.get(f"{record.video_id}:{variant}")
            if problem:
                found.append(f"The {variant} is unusable ({problem}).")
        return found

    async def download_asset(self, video_id: str, variant: VideoVariant) -> tuple[JobRecord, Path]:
        """One asset of a completed job (the ledger learns the video path); an unfinished job is refused."""
        record = await self.refresh(await self.lookup(video_id))
        if record.kind == "long":  # stitched here, never at a provider: its files are already local
            files = {
                "video": record.video_path,
                "thumbnail": record.thumbnail_path,
                "spritesheet": record.spritesheet_path,
            }
            local = files[variant]
            if record.status == "completed" and local and Path(local).is_file():
                return record, Path(local)
            raise self._refuse(
                "job",
                f"Long video '{video_id}' is {record.status}; its {variant} is not there yet.",
                code="not_ready",
                param="video_id",
                fix=f"Call get_video_status with video_id '{video_id}' until it completes.",
                record=record,
            )
        if record.status != "completed" or record.video_id is None:
            raise self._refuse(
                "job",
                f"Video '{video_id}' is {record.status}; only a completed video can be downloaded.",
                code="not_ready" if record.status in _UNFINISHED else "not_downloadable",
                param="video_id",
                fix=(
                    f"Call get_video_status with video_id '{video_id}' until it completes."
                    if record.status in _UNFINISHED
                    else "Create the video again if you need it."
                ),
                record=record,
            )
        if record.assets_expired():
            raise self._refuse(
                "job",
                f"The download links of '{video_id}' expired at the provider.",
                code="expired",
                param="video_id",
                fix="Only files already downloaded remain; create the video again if you need it.",
                record=record,
            )
        try:
            path = await self.download(record, variant)
        except ProviderError as exc:
            raise self._provider_failure(exc, record) from None
        if variant == "video":
            record = await self.ledger.set_files(record.tenant, record.video_id, video_path=path)
        return record, path

    # -- deleting and listing --------------------------------------------------------------------------------

    async def delete(self, video_id: str) -> JobRecord:
        record = await self.lookup(video_id)
        if record.video_id is None:
            raise self._refuse(
                "job",
                f"Job '{video_id}' never reached the provider; nothing to delete.",
                code="invalid_value",
                param="video_id",
                record=record,
            )
        dialect = self.runtime.dialect
        if not dialect.can_delete:
            raise self._refuse(
                "provider",
                dialect.unsupported("Deleting a video"),
                code="unsupported",
                param="video_id",
                fix="The video stays at the provider until it expires there; local files are yours to remove.",
                record=record,
            )
        connection = await self.connection()
        try:
            await connection.provider.delete(record.video_id, timeout=15.0)
        except ProviderError as exc:
            if exc.status != 404:
                raise self._provider_failure(exc, record) from None
        self.gate.forget(record.video_id)
        return await self.ledger.update_from_provider(record.tenant, record.video_id, "deleted")

    async def listing(self, limit: int, refresh: bool) -> Listing:
        tenant = current_tenant()
        records = await self.ledger.list(tenant.id, limit=limit)
        if refresh:
            refreshed = []
            for record in records:
                try:
                    with anyio.move_on_after(5):
                        record = await self.refresh(record)
                except ToolError as exc:
                    logger.info("refresh of %s failed: %s", record.local_id, exc)
                refreshed.append(record)
            records = tuple(refreshed)
        return Listing(
            records=records,
            provider_budget=await self.ledger.budget(tenant.id, self.daily_limit(tenant, False), pool="provider"),
            sandbox_budget=await self.ledger.budget(tenant.id, self.daily_limit(tenant, True), pool="sandbox"),
        )


def _link_or_copy(source: Path, dest: Path) -> Path:
    """A sandbox render is stored once: hard-link it into the output folder (copy across file systems)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, dest)
    return dest


def _is_mp4(path: Path) -> bool:
    """An ISO media file (`....ftyp` at the start), whatever the name or the declared type says."""
    with path.open("rb") as handle:
        head = handle.read(12)
    return len(head) >= 8 and head[4:8] == b"ftyp"


def derive_image(video: Path, variant: VideoVariant, dest: Path) -> Path:
    """A WebP thumbnail (the middle frame) or a JPEG spritesheet (up to 10 frames, 5 a row) from an MP4, with
    PyAV; written atomically to `dest` (its suffix follows the variant)."""
    import av
    from PIL import Image

    with av.open(str(video)) as container:  # first pass: count frames without decoding them
        total = sum(1 for packet in container.demux(container.streams.video[0]) if packet.size)
    if total == 0:
        raise ValueError("the video has no frames")
    count = 1 if variant == "thumbnail" else min(10, total)
    wanted = {total // 2} if variant == "thumbnail" else {i * total // count for i in range(count)}
    frames: list[Image.Image] = []
    with av.open(str(video)) as container:  # second pass: decode, keeping only the frames used
        for index, frame in enumerate(container.decode(container.streams.video[0])):
            if index in wanted:
                frames.append(Image.fromarray(frame.to_ndarray(format="rgb24"), "RGB"))
            if len(frames) == len(wanted):
                break
    if not frames:
        raise ValueError("the video has no frames")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    if variant == "thumbnail":
        frames[0].save(tmp, "WEBP", quality=80)
    else:
        picked = frames
        count = len(picked)
        width = 160
        height = max(1, round(picked[0].height * width / picked[0].width))
        columns = min(5, count)
        rows = (count + columns - 1) // columns
        sheet = Image.new("RGB", (width * columns, height * rows))
        for index, image in enumerate(picked):
            sheet.paste(
                image.convert("RGB").resize((width, height)), ((index % columns) * width, (index // columns) * height)
            )
        sheet.save(tmp, "JPEG", quality=80)
    os.replace(tmp, dest)
    return dest
