"""The job ledger: every video job, recorded before the create request leaves and updated after.

Why a database and not memory: a render outlives a tool call and sometimes the server process. A job is
written down (status `creating`) *before* the provider is asked, so a crash between "sent" and "answered"
leaves a trace that the next process reconciles (`unresolved()`). With PostgreSQL (`SORA_MCP_DATABASE_URL`)
several replicas share one ledger, and everything that must hold across processes holds across machines:
exact budgets, idempotency, the poll gate (`claim_retrieve`).

Every job belongs to a tenant, and every method that names a job or sums spend takes the tenant first: a
tenant never sees, finds, reuses or pays for another tenant's job. `unresolved()` is the one exception: the
server's own recovery, for every tenant.

A long video (`kind='long'`) is a job row holding its whole plan's estimated cost; a segment recorded with
`parent_id` moves its cost out of that reservation in the same transaction, so an admitted plan's segments
always fit and the day's total reserved stays the same. A failed plan releases what is left of it.
"""

from __future__ import annotations

import builtins
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from sora_mcp.jobs.budget import BudgetSnapshot, admit, from_micros, to_micros, utc_day
from sora_mcp.jobs.database import Database, Location
from sora_mcp.jobs.errors import JobNotFound, LedgerConflict, LedgerError, LedgerUnavailable, LedgerVersionError
from sora_mcp.jobs.records import (
    JOB_STATUSES,
    UNBILLED_STATUSES,
    JobIntent,
    JobKind,
    JobRecord,
    JobStatus,
    Pool,
    request_fingerprint,
)
from sora_mcp.jobs.schema import JOBS

logger = logging.getLogger(__name__)

# Later states win over earlier ones, so a stale answer (an `in_progress` read that lands after another caller
# recorded `completed`) never moves a job backwards. Equal ranks keep the first answer.
_RANK: dict[str, int] = {
    "creating": 0,
    "unknown": 0,
    "queued": 1,
    "in_progress": 2,
    "completed": 3,
    "failed": 3,
    "create_failed": 3,
    "expired": 4,
    "deleted": 5,
}
_DUPLICATE_STATUSES = ("creating", "unknown", "queued", "in_progress", "completed")


def _spent_query(pool: Pool) -> sa.Select[tuple[Any]]:
    cost = sa.func.coalesce(JOBS.c.final_cost_micros, JOBS.c.estimated_cost_micros, 0)
    in_pool = JOBS.c.backend == "sandbox" if pool == "sandbox" else JOBS.c.backend != "sandbox"
    return sa.select(sa.func.coalesce(sa.func.sum(cost), 0)).where(
        JOBS.c.tenant == sa.bindparam("tenant"),
        JOBS.c.day == sa.bindparam("day"),
        JOBS.c.status.not_in(UNBILLED_STATUSES),
        in_pool,
    )


# The statements every create runs, built once: building them per call cost more than running them.
_SPENT: dict[Pool, sa.Select[tuple[Any]]] = {"sandbox": _spent_query("sandbox"), "provider": _spent_query("provider")}
_INSERT = sa.insert(JOBS).returning(*JOBS.c)


def _record(row: sa.Row[Any]) -> JobRecord:
    values = dict(row._mapping)
    values.pop("seq", None)
    estimate, final = values.pop("estimated_cost_micros"), values.pop("final_cost_micros")
    return JobRecord(
        **values,
        estimated_cost_usd=None if estimate is None else from_micros(estimate),
        final_cost_usd=None if final is None else from_micros(final),
    )


def _check_status(status: str, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if status not in allowed:
        raise ValueError(f"status '{status}' is not one of {', '.join(allowed)}")


def _clamp_progress(progress: int | float) -> int:
    return max(0, min(100, int(progress)))


def _by_id(tenant: str, job_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(JOBS.c.tenant == tenant, sa.or_(JOBS.c.video_id == job_id, JOBS.c.local_id == job_id))


class Ledger:
    """The ledger on one database; one instance per process (it pools its connections), used from one event
    loop. It opens (creating the file or the tables, migrating) on first use; after `close()` it refuses work."""

    def __init__(
        self, location: Location, *, clock: Callable[[], float] = time.time, busy_timeout_s: float = 5.0
    ) -> None:
        self.location = location
        self._db = Database(location, busy_timeout_s=busy_timeout_s)
        self._clock = clock

    async def close(self) -> None:
        await self._db.close()

    # -- helpers -------------------------------------------------------------------------------------------

    @staticmethod
    async def _find(conn: AsyncConnection, tenant: str, job_id: str, *, lock: bool = False) -> sa.Row[Any] | None:
        query = sa.select(JOBS).where(_by_id(tenant, job_id)).limit(1)
        return (await conn.execute(query.with_for_update() if lock else query)).first()

    async def _require(self, conn: AsyncConnection, tenant: str, job_id: str) -> sa.Row[Any]:
        row = await self._find(conn, tenant, job_id, lock=True)
        if row is None:
            raise JobNotFound(f"no job '{job_id}' in the job ledger")
        return row

    @staticmethod
    async def _set(conn: AsyncConnection, local_id: str, changes: Mapping[str, object]) -> JobRecord:
        query = sa.update(JOBS).where(JOBS.c.local_id == local_id).values(**changes).returning(*JOBS.c)
        return _record((await conn.execute(query)).one())

    @staticmethod
    async def _spent_micros(conn: AsyncConnection, tenant: str, day: str, pool: Pool) -> int:
        """Billed or reserved by `tenant` on `day` in `pool`: failed and refused jobs count nothing."""
        return int((await conn.execute(_SPENT[pool], {"tenant": tenant, "day": day})).scalar_one())

    async def _duplicate(
        self, conn: AsyncConnection, tenant: str, intent: JobIntent, fingerprint: str, window_s: float
    ) -> sa.Row[Any] | None:
        """The earlier job of this tenant an identical request (or the same idempotency key) gets instead."""
        mine = sa.and_(JOBS.c.tenant == tenant, JOBS.c.backend == intent.backend)
        newest = (JOBS.c.created_at.desc(), JOBS.c.seq.desc())
        if intent.idempotency_key is not None:
            query = sa.select(JOBS).where(mine, JOBS.c.idempotency_key == intent.idempotency_key)
            row = (await conn.execute(query.order_by(*newest).limit(1))).first()
            if row is not None and row.request_fingerprint != fingerprint:
                raise LedgerConflict(
                    f"idempotency_key '{intent.idempotency_key}' was already used for a different request "
                    f"(job {row.local_id})"
                )
            return row
        if window_s <= 0:
            return None
        now = self._clock()
        query = sa.select(JOBS).where(
            mine,
            JOBS.c.request_fingerprint == fingerprint,
            JOBS.c.idempotency_key.is_(None),
            JOBS.c.created_at >= now - window_s,
            JOBS.c.status.in_(_DUPLICATE_STATUSES),
            sa.or_(JOBS.c.expires_at.is_(None), JOBS.c.expires_at > now),
        )
        return (await conn.execute(query.order_by(*newest).limit(1))).first()

    async def _take_from_plan(
        self, conn: AsyncConnection, tenant: str, intent: JobIntent, estimate: int
    ) -> tuple[int, str | None]:
        """Move up to `estimate` out of the plan's remaining reservation: (micros moved, the plan's day)."""
        assert intent.parent_id is not None
        plan = (
            await conn.execute(
                sa.select(JOBS).where(JOBS.c.tenant == tenant, JOBS.c.local_id == intent.parent_id).with_for_update()
            )
        ).first()
        if plan is None:
            raise JobNotFound(f"no long-video job '{intent.parent_id}' in the job ledger")
        if plan.status in UNBILLED_STATUSES or plan.final_cost_micros is not None:
            return 0, None  # a failed or settled plan holds nothing: the segment is admitted on its own
        moved = min(estimate, int(plan.estimated_cost_micros or 0))
        if moved:
            await conn.execute(
                sa.update(JOBS)
                .where(JOBS.c.local_id == plan.local_id)
                .values(estimated_cost_micros=int(plan.estimated_cost_micros) - moved, updated_at=self._clock())
            )
        return moved, str(plan.day)

    # -- writes --------------------------------------------------------------------------------------------

    async def record_intent(
        self,
        tenant: str,
        intent: JobIntent,
        *,
        daily_limit_usd: float,
        duplicate_window_s: float = 0.0,
        limit_source: str | None = None,
    ) -> JobRecord:
        """Write the job down as `creating` and reserve its estimate, before the create request is sent.

        Raises `BudgetExceeded` (nothing written) when the tenant's spend today in the job's pool plus the
        estimate would pass `daily_limit_usd`; a limit of 0 refuses everything, an unknown price (`None`)
        reserves nothing. The spend read and the insert share one transaction serialised per tenant (SQLite:
        `BEGIN IMMEDIATE`; PostgreSQL: the tenant's advisory lock), so concurrent callers in any process or
        replica cannot both squeeze under the limit.

        An identical request of the same tenant within `duplicate_window_s` (or one with the same idempotency
        key) returns the earlier job instead, in the same transaction, so a retry never pays twice: a returned
        job created before the call is a reuse. A key reused for a different request raises `LedgerConflict`.

        A segment (`intent.parent_id`) takes its cost out of its plan's remaining reservation (the plan's cost
        floored at 0) and counts on the plan's day; only what the plan no longer covers is admitted.

        `limit_source` is what a refusal names as the limit's origin (default: the pool's environment variable).
        """
        estimate = None if intent.estimated_cost_usd is None else to_micros(intent.estimated_cost_usd)
        limit = to_micros(max(0.0, daily_limit_usd))
        fingerprint = intent.fingerprint
        async with self._db.write(tenant) as conn:
            earlier = await self._duplicate(conn, tenant, intent, fingerprint, duplicate_window_s)
            if earlier is not None:
                return _record(earlier)
            now = self._clock()
            day = utc_day(now)
            moved = 0
            if intent.parent_id is not None:
                moved, plan_day = await self._take_from_plan(conn, tenant, intent, estimate or 0)
                day = plan_day or day
            sandbox = intent.backend == "sandbox"
            needed = (estimate or 0) - moved
            if needed > 0 or moved == 0:
                spent = await self._spent_micros(conn, tenant, day, "sandbox" if sandbox else "provider")
                setting = limit_source or (
                    "SORA_MCP_SANDBOX_DAILY_BUDGET_USD" if sandbox else "SORA_MCP_DAILY_BUDGET_USD"
                )
                try:
                    admit(day=day, limit_micros=limit, spent_micros=spent, requested_micros=needed, setting=setting)
                except Exception:
                    logger.info(
                        "create refused by the budget: spent %d µ$, asked %d µ$, limit %d µ$", spent, needed, limit
                    )
                    raise
            values = {
                "local_id": str(uuid.uuid4()),
                "tenant": tenant,
                "kind": intent.kind,
                "parent_video_id": intent.parent_video_id,
                "backend": intent.backend,
                "base_url": intent.base_url,
                "profile": intent.profile,
                "model": intent.model,
                "seconds": intent.seconds,
                "size": intent.size,
                "prompt": intent.prompt,
                "reference_path": None if intent.reference_path is None else str(intent.reference_path),
                "reference_sha256": intent.reference_sha256,
                "request_fingerprint": fingerprint,
                "estimated_cost_micros": estimate,
                "status": "creating",
                "progress": 0,
                "created_at": now,
                "updated_at": now,
                "day": day,
                "idempotency_key": intent.idempotency_key,
                "parent_id": intent.parent_id,
                "segment": intent.segment,
            }
            return _record((await conn.execute(_INSERT, values)).one())

    async def attach_video_id(
        self,
        tenant: str,
        local_id: str,
        video_id: str,
        *,
        status: JobStatus = "queued",
        progress: int = 0,
        expires_at: float | None = None,
    ) -> JobRecord:
        """Record the provider's answer to the create: its video id and first status.

        Idempotent for the same id. Also revives a job marked `create_failed` (a reconciliation found it after
        all: it exists, so it is billed and counts again). A different id for the same job, or an id already
        attached to another job, raises `LedgerConflict`.
        """
        _check_status(status, ("queued", "in_progress", "completed", "failed"))
        try:
            async with self._db.write() as conn:
                row = await self._require_local(conn, tenant, local_id)
                if row.video_id is not None and row.video_id != video_id:
                    raise LedgerConflict(f"job {local_id} already has video id {row.video_id}, not {video_id}")
                other = (
                    await conn.execute(
                        sa.select(JOBS.c.local_id).where(JOBS.c.video_id == video_id, JOBS.c.local_id != local_id)
                    )
                ).first()
                if other is not None:
                    raise LedgerConflict(f"video {video_id} already belongs to another job")
                now = self._clock()
                changes: dict[str, object] = {"video_id": video_id, "updated_at": now}
                if row.status in ("creating", "unknown", "create_failed"):
                    changes.update(
                        status=status,
                        progress=100 if status == "completed" else _clamp_progress(progress),
                        error_code=None,
                        error_message=None,
                    )
                    if status == "completed":
                        changes["completed_at"] = now
                else:  # a repeated answer: merge like any other
                    changes.update(self._merge(row, status, progress))
                if expires_at is not None:
                    changes["expires_at"] = float(expires_at)
                return await self._set(conn, local_id, changes)
        except sa.exc.IntegrityError as exc:  # a concurrent attach of the same id to another job won the race
            raise LedgerConflict(f"video {video_id} already belongs to another job") from exc

    async def _require_local(self, conn: AsyncConnection, tenant: str, local_id: str) -> sa.Row[Any]:
        query = sa.select(JOBS).where(JOBS.c.tenant == tenant, JOBS.c.local_id == local_id).with_for_update()
        row = (await conn.execute(query)).first()
        if row is None:
            raise JobNotFound(f"no job with local id '{local_id}' in the job ledger")
        return row

    async def mark_create_failed(self, tenant: str, local_id: str, code: str | None, message: str | None) -> JobRecord:
        """The provider definitely refused the create: nothing is billed, so the reservation is released.

        Only a job without a video id (`creating`, `unknown`, already `create_failed`) can be failed this way;
        one with a video id exists at the provider and raises `LedgerConflict`.
        """
        async with self._db.write() as conn:
            row = await self._require_local(conn, tenant, local_id)
            if row.status not in ("creating", "unknown", "create_failed") or row.video_id is not None:
                raise LedgerConflict(
                    f"job {local_id} was accepted as video {row.video_id} (status {row.status}); "
                    "it cannot be marked create_failed"
                )
            changes = {"status": "create_failed", "error_code": code, "error_message": message}
            return await self._set(conn, local_id, {**changes, "updated_at": self._clock()})

    async def mark_unknown(self, tenant: str, local_id: str, code: str | None, message: str | None) -> JobRecord:
        """The create's answer was lost and the provider could not be searched: keep the reservation, say so."""
        async with self._db.write() as conn:
            row = await self._require_local(conn, tenant, local_id)
            if row.status not in ("creating", "unknown") or row.video_id is not None:
                return _record(row)
            changes = {"status": "unknown", "error_code": code, "error_message": message}
            return await self._set(conn, local_id, {**changes, "updated_at": self._clock()})

    def _merge(self, row: sa.Row[Any], status: str, progress: int | None) -> dict[str, object]:
        """Status and progress after an answer, never moving backwards."""
        current = str(row.status)
        old_progress = int(row.progress)
        if _RANK[status] > _RANK[current]:
            new_status, new_progress = status, old_progress if progress is None else _clamp_progress(progress)
        elif status == current:
            new_status = current
            new_progress = old_progress if progress is None else max(old_progress, _clamp_progress(progress))
        else:
            new_status, new_progress = current, old_progress
        if new_status == "completed":
            new_progress = 100
        changes: dict[str, object] = {"status": new_status, "progress": new_progress}
        if new_status == "completed" and row.completed_at is None:
            changes["completed_at"] = self._clock()
        return changes

    async def update_from_provider(
        self,
        tenant: str,
        job_id: str,
        status: JobStatus,
        *,
        progress: int | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
        completed_at: float | None = None,
        expires_at: float | None = None,
        final_cost_usd: float | None = None,
    ) -> JobRecord:
        """Merge a retrieve answer (or `expired` / `deleted`); a stale answer never moves a job backwards.

        `job_id` is a video id or a local id (a long-video plan has no video id). Fields left `None` keep their
        recorded value.
        """
        _check_status(status, ("queued", "in_progress", "completed", "failed", "expired", "deleted"))
        async with self._db.write() as conn:
            row = await self._require(conn, tenant, job_id)
            changes = self._merge(row, status, progress)
            changes["updated_at"] = self._clock()
            if changes["status"] == status:
                if error_code is not None:
                    changes["error_code"] = error_code
                if error_message is not None:
                    changes["error_message"] = error_message
            if completed_at is not None and changes["status"] in ("completed", "expired", "deleted"):
                changes["completed_at"] = float(completed_at)
            if expires_at is not None:
                changes["expires_at"] = float(expires_at)
            if final_cost_usd is not None:
                changes["final_cost_micros"] = to_micros(final_cost_usd)
            return await self._set(conn, str(row.local_id), changes)

    async def set_files(
        self,
        tenant: str,
        job_id: str,
        *,
        video_path: str | Path | None = None,
        thumbnail_path: str | Path | None = None,
        spritesheet_path: str | Path | None = None,
    ) -> JobRecord:
        """Record downloaded files (only those given); `downloaded_at` is set when the video itself is given."""
        async with self._db.write() as conn:
            row = await self._require(conn, tenant, job_id)
            now = self._clock()
            changes: dict[str, object] = {"updated_at": now}
            for name, value in (
                ("video_path", video_path),
                ("thumbnail_path", thumbnail_path),
                ("spritesheet_path", spritesheet_path),
            ):
                if value is not None:
                    changes[name] = str(value)
            if video_path is not None:
                changes["downloaded_at"] = now
            return await self._set(conn, str(row.local_id), changes)

    async def claim_retrieve(self, tenant: str, job_id: str, min_interval_s: float = 1.0) -> bool:
        """True if this caller may retrieve the job now (none did in the last `min_interval_s`, in any process
        or replica sharing the database).

        The claim is recorded, so a second caller asking within the interval gets False and should answer
        from the ledger instead. Complements the in-process `RetrieveGate`.
        """
        async with self._db.write() as conn:
            row = await self._require(conn, tenant, job_id)
            now = self._clock()
            last = row.last_retrieve_at
            if last is not None and 0 <= now - float(last) < min_interval_s:
                return False
            await conn.execute(sa.update(JOBS).where(JOBS.c.local_id == row.local_id).values(last_retrieve_at=now))
            return True

    async def claim_download(self, tenant: str, job_id: str, lease_s: float) -> bool:
        """True if this caller should download the job's files now: none are recorded yet and no other caller
        (in any process or replica) claimed them in the last `lease_s` (a claimer that died lets the lease run
        out). The claim ends when `set_files` records the video, or with `release_download`."""
        async with self._db.write() as conn:
            row = await self._require(conn, tenant, job_id)
            now = self._clock()
            claimed = row.download_claimed_at
            if row.video_path is not None or (claimed is not None and 0 <= now - float(claimed) < lease_s):
                return False
            await conn.execute(sa.update(JOBS).where(JOBS.c.local_id == row.local_id).values(download_claimed_at=now))
            return True

    async def release_download(self, tenant: str, job_id: str) -> None:
        """Give up a download claim (the download failed), so the next caller tries at once."""
        async with self._db.write() as conn:
            row = await self._require(conn, tenant, job_id)
            await conn.execute(sa.update(JOBS).where(JOBS.c.local_id == row.local_id).values(download_claimed_at=None))

    # -- reads ---------------------------------------------------------------------------------------------

    async def _select(self, query: sa.Select[Any]) -> tuple[JobRecord, ...]:
        async with self._db.read() as conn:
            return tuple(_record(row) for row in (await conn.execute(query)).all())

    async def get(self, tenant: str, job_id: str) -> JobRecord | None:
        """The tenant's job with this video id or local id, or None (also when another tenant owns it)."""
        async with self._db.read() as conn:
            row = await self._find(conn, tenant, job_id)
            return None if row is None else _record(row)

    async def list(
        self, tenant: str, limit: int = 50, statuses: Iterable[JobStatus] | None = None
    ) -> tuple[JobRecord, ...]:
        """The tenant's most recent jobs first, optionally only those in `statuses`."""
        limit = max(1, min(int(limit), 1000))
        query = sa.select(JOBS).where(JOBS.c.tenant == tenant)
        if statuses is not None:
            wanted = builtins.list(statuses)
            for status in wanted:
                _check_status(status, JOB_STATUSES)
            if not wanted:
                return ()
            query = query.where(JOBS.c.status.in_(wanted))
        return await self._select(query.order_by(JOBS.c.created_at.desc(), JOBS.c.seq.desc()).limit(limit))

    async def children(self, tenant: str, parent_id: str) -> tuple[JobRecord, ...]:
        """The segments of the tenant's long-video job `parent_id`, by segment index (then age)."""
        query = sa.select(JOBS).where(JOBS.c.tenant == tenant, JOBS.c.parent_id == parent_id)
        return await self._select(query.order_by(JOBS.c.segment, JOBS.c.seq))

    async def unresolved(self, min_age_s: float = 0.0) -> tuple[JobRecord, ...]:
        """Jobs of every tenant still `creating` or `unknown` at least `min_age_s` old, oldest first: the create's
        answer was never recorded (a crash or an ambiguous failure). The server's own recovery reconciles each
        against the provider's recent jobs; requests never see other tenants' jobs."""
        cutoff = self._clock() - min_age_s
        query = sa.select(JOBS).where(
            JOBS.c.status.in_(("creating", "unknown")), JOBS.c.kind != "long", JOBS.c.created_at <= cutoff
        )
        return await self._select(query.order_by(JOBS.c.created_at, JOBS.c.seq))

    async def unfinished_plans(self) -> tuple[JobRecord, ...]:
        """Long-video jobs of every tenant not yet completed or failed, oldest first: what the server resumes
        after a restart (each is then advanced for its own tenant)."""
        query = sa.select(JOBS).where(JOBS.c.kind == "long", JOBS.c.status.in_(("creating", "queued", "in_progress")))
        return await self._select(query.order_by(JOBS.c.created_at, JOBS.c.seq))

    async def budget(
        self, tenant: str, daily_limit_usd: float, pool: Pool = "provider", day: str | None = None
    ) -> BudgetSnapshot:
        """The tenant's budget position in `pool` today (or on `day`): spent or reserved, and what is left."""
        day = day or utc_day(self._clock())
        async with self._db.read() as conn:
            spent = from_micros(await self._spent_micros(conn, tenant, day, pool))
        limit = max(0.0, daily_limit_usd)
        return BudgetSnapshot(
            day=day, limit_usd=limit, spent_usd=spent, remaining_usd=max(0.0, round(limit - spent, 6))
        )


# The names callers knew this module by before records and errors got modules of their own.
__all__ = [
    "JobIntent",
    "JobKind",
    "JobNotFound",
    "JobRecord",
    "JobStatus",
    "Ledger",
    "LedgerConflict",
    "LedgerError",
    "LedgerUnavailable",
    "LedgerVersionError",
    "Location",
    "request_fingerprint",
]
