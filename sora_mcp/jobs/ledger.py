"""The job ledger: every video job, recorded in SQLite before the create request leaves and updated after.

Why a database and not memory: a render outlives a tool call and sometimes the server process. A job is
written down (status `creating`) *before* the provider is asked, so a crash between "sent" and "answered"
leaves a trace that the next process reconciles (`unresolved()`), and queued jobs are resumed (`active()`).

Concurrency: WAL mode, one short transaction per operation, `BEGIN IMMEDIATE` for every read-modify-write and
a busy timeout, so several threads and several server processes (one per MCP client) can share one file.
`SyncLedger` is the blocking core; `Ledger` is the async facade the tools use, running each call in a worker
thread with `anyio.to_thread.run_sync` so the event loop never waits on a disk lock.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

import anyio.to_thread

from sora_mcp.errors import ErrorInfo, SoraMcpError
from sora_mcp.jobs.budget import BudgetSnapshot, admit, from_micros, to_micros, utc_day

logger = logging.getLogger(__name__)

JobKind = Literal["create", "remix", "extend", "edit", "long"]
"""`long`: a long video, a plan of segments (jobs whose `parent_id` is its local id); never sent to a provider."""
JobStatus = Literal[
    "creating", "unknown", "queued", "in_progress", "completed", "failed", "create_failed", "expired", "deleted"
]
JOB_KINDS: tuple[str, ...] = get_args(JobKind)
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)
ACTIVE_STATUSES: tuple[JobStatus, ...] = ("queued", "in_progress")
RESERVED_STATUSES: tuple[JobStatus, ...] = ("creating", "unknown")
"""The create's answer is not known yet: the cost stays reserved until reconciliation says which way."""
UNBILLED_STATUSES: tuple[JobStatus, ...] = ("failed", "create_failed")
"""Providers do not bill failed, blocked or cancelled jobs, nor creates they refused: the budget releases them."""
Pool = Literal["sandbox", "provider"]
"""Spend is counted per pool: playing with the sandbox never blocks real work."""
TERMINAL_STATUSES: tuple[JobStatus, ...] = ("completed", "failed", "create_failed", "expired", "deleted")

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

_T = TypeVar("_T")


class LedgerError(SoraMcpError):
    """The ledger cannot do what was asked; the message says why and how to recover."""

    stage = "storage"
    code = "ledger_error"

    def problem(self) -> ErrorInfo:
        return ErrorInfo(stage="storage", message=str(self), code=self.code)


class JobNotFound(LedgerError, LookupError):
    """No job with that local id or video id."""


class LedgerUnavailable(LedgerError):
    """The file is locked, corrupt or cannot be created: named, with the way out, and the file kept."""

    code = "ledger_unavailable"


def _translate(path: Path, exc: BaseException) -> LedgerUnavailable:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return LedgerUnavailable(
            f"The job ledger {path} is busy (another sora-mcp process?); it stayed locked for 5 s. "
            "Try again in a moment; if no other sora-mcp runs, a crashed process may still hold it."
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return LedgerUnavailable(
            f"The job ledger {path} is damaged ({exc}). It was left as it is. To recover, move it aside "
            f"(e.g. `mv {path} {path}.broken`): sora-mcp then starts a new ledger, and jobs still at the provider "
            "can be found with list_videos refresh=true."
        )
    return LedgerUnavailable(
        f"The job ledger {path} cannot be used: {exc}. Check that SORA_MCP_HOME ({path.parent}) is a writable "
        "local directory, or point SORA_MCP_HOME elsewhere."
    )


class LedgerConflict(LedgerError):
    """The change contradicts what is recorded (e.g. a second video id for one job, or failing a billed job)."""


class LedgerVersionError(LedgerError):
    """The file was written by a newer sora-mcp whose schema this version does not know."""


# Each entry upgrades the schema by one version; `PRAGMA user_version` is the number of entries applied.
# Append, never edit: files in the wild were created by earlier entries.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE jobs (
            local_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('create', 'remix', 'extend', 'edit')),
            parent_video_id TEXT,
            video_id TEXT UNIQUE,
            backend TEXT NOT NULL,
            base_url TEXT,
            profile TEXT NOT NULL,
            model TEXT NOT NULL,
            seconds INTEGER NOT NULL CHECK (seconds > 0),
            size TEXT NOT NULL,
            prompt TEXT NOT NULL,
            reference_path TEXT,
            reference_sha256 TEXT,
            request_fingerprint TEXT NOT NULL,
            estimated_cost_micros INTEGER CHECK (estimated_cost_micros >= 0),
            final_cost_micros INTEGER CHECK (final_cost_micros >= 0),
            status TEXT NOT NULL CHECK (status IN ('creating', 'queued', 'in_progress', 'completed', 'failed',
                                                   'create_failed', 'expired', 'deleted')),
            progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
            error_code TEXT,
            error_message TEXT,
            video_path TEXT,
            thumbnail_path TEXT,
            spritesheet_path TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            completed_at REAL,
            downloaded_at REAL,
            expires_at REAL,
            day TEXT NOT NULL,
            last_retrieve_at REAL
        )
        """,
        "CREATE INDEX jobs_by_day ON jobs (day, status)",
        "CREATE INDEX jobs_by_status ON jobs (status, created_at)",
        "CREATE INDEX jobs_by_created ON jobs (created_at)",
        "CREATE INDEX jobs_by_fingerprint ON jobs (request_fingerprint)",
    ),
    (
        # v2: the `unknown` status (a create whose answer was lost and could not be reconciled yet) and the
        # client's idempotency key. SQLite cannot change a CHECK constraint in place, hence the copy.
        """
        CREATE TABLE jobs_v2 (
            local_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('create', 'remix', 'extend', 'edit')),
            parent_video_id TEXT,
            video_id TEXT UNIQUE,
            backend TEXT NOT NULL,
            base_url TEXT,
            profile TEXT NOT NULL,
            model TEXT NOT NULL,
            seconds INTEGER NOT NULL CHECK (seconds > 0),
            size TEXT NOT NULL,
            prompt TEXT NOT NULL,
            reference_path TEXT,
            reference_sha256 TEXT,
            request_fingerprint TEXT NOT NULL,
            estimated_cost_micros INTEGER CHECK (estimated_cost_micros >= 0),
            final_cost_micros INTEGER CHECK (final_cost_micros >= 0),
            status TEXT NOT NULL CHECK (status IN ('creating', 'unknown', 'queued', 'in_progress', 'completed',
                                                   'failed', 'create_failed', 'expired', 'deleted')),
            progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
            error_code TEXT,
            error_message TEXT,
            video_path TEXT,
            thumbnail_path TEXT,
            spritesheet_path TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            completed_at REAL,
            downloaded_at REAL,
            expires_at REAL,
            day TEXT NOT NULL,
            last_retrieve_at REAL,
            idempotency_key TEXT
        )
        """,
        """
        INSERT INTO jobs_v2 (local_id, kind, parent_video_id, video_id, backend, base_url, profile, model, seconds,
                             size, prompt, reference_path, reference_sha256, request_fingerprint,
                             estimated_cost_micros, final_cost_micros, status, progress, error_code, error_message,
                             video_path, thumbnail_path, spritesheet_path, created_at, updated_at, completed_at,
                             downloaded_at, expires_at, day, last_retrieve_at)
        SELECT local_id, kind, parent_video_id, video_id, backend, base_url, profile, model, seconds, size, prompt,
               reference_path, reference_sha256, request_fingerprint, estimated_cost_micros, final_cost_micros,
               status, progress, error_code, error_message, video_path, thumbnail_path, spritesheet_path,
               created_at, updated_at, completed_at, downloaded_at, expires_at, day, last_retrieve_at
        FROM jobs
        """,
        "DROP TABLE jobs",
        "ALTER TABLE jobs_v2 RENAME TO jobs",
        "CREATE INDEX jobs_by_day ON jobs (day, status)",
        "CREATE INDEX jobs_by_status ON jobs (status, created_at)",
        "CREATE INDEX jobs_by_created ON jobs (created_at)",
        "CREATE INDEX jobs_by_fingerprint ON jobs (request_fingerprint)",
        "CREATE INDEX jobs_by_idempotency_key ON jobs (idempotency_key)",
    ),
    (
        # v3: long videos. A `long` job is the plan (it holds the whole plan's reservation); its segments are
        # ordinary jobs with `parent_id` (the plan's local id) and `segment` (0-based index). The kind CHECK
        # changes, hence the copy.
        """
        CREATE TABLE jobs_v3 (
            local_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('create', 'remix', 'extend', 'edit', 'long')),
            parent_video_id TEXT,
            video_id TEXT UNIQUE,
            backend TEXT NOT NULL,
            base_url TEXT,
            profile TEXT NOT NULL,
            model TEXT NOT NULL,
            seconds INTEGER NOT NULL CHECK (seconds > 0),
            size TEXT NOT NULL,
            prompt TEXT NOT NULL,
            reference_path TEXT,
            reference_sha256 TEXT,
            request_fingerprint TEXT NOT NULL,
            estimated_cost_micros INTEGER CHECK (estimated_cost_micros >= 0),
            final_cost_micros INTEGER CHECK (final_cost_micros >= 0),
            status TEXT NOT NULL CHECK (status IN ('creating', 'unknown', 'queued', 'in_progress', 'completed',
                                                   'failed', 'create_failed', 'expired', 'deleted')),
            progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
            error_code TEXT,
            error_message TEXT,
            video_path TEXT,
            thumbnail_path TEXT,
            spritesheet_path TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            completed_at REAL,
            downloaded_at REAL,
            expires_at REAL,
            day TEXT NOT NULL,
            last_retrieve_at REAL,
            idempotency_key TEXT,
            parent_id TEXT,
            segment INTEGER CHECK (segment >= 0)
        )
        """,
        """
        INSERT INTO jobs_v3 (local_id, kind, parent_video_id, video_id, backend, base_url, profile, model, seconds,
                             size, prompt, reference_path, reference_sha256, request_fingerprint,
                             estimated_cost_micros, final_cost_micros, status, progress, error_code, error_message,
                             video_path, thumbnail_path, spritesheet_path, created_at, updated_at, completed_at,
                             downloaded_at, expires_at, day, last_retrieve_at, idempotency_key)
        SELECT local_id, kind, parent_video_id, video_id, backend, base_url, profile, model, seconds, size, prompt,
               reference_path, reference_sha256, request_fingerprint, estimated_cost_micros, final_cost_micros,
               status, progress, error_code, error_message, video_path, thumbnail_path, spritesheet_path,
               created_at, updated_at, completed_at, downloaded_at, expires_at, day, last_retrieve_at, idempotency_key
        FROM jobs
        """,
        "DROP TABLE jobs",
        "ALTER TABLE jobs_v3 RENAME TO jobs",
        "CREATE INDEX jobs_by_day ON jobs (day, status)",
        "CREATE INDEX jobs_by_status ON jobs (status, created_at)",
        "CREATE INDEX jobs_by_created ON jobs (created_at)",
        "CREATE INDEX jobs_by_fingerprint ON jobs (request_fingerprint)",
        "CREATE INDEX jobs_by_idempotency_key ON jobs (idempotency_key)",
        "CREATE INDEX jobs_by_parent ON jobs (parent_id, segment)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to `SCHEMA_VERSION` in one immediate transaction (safe when processes start together).

    Returns the version found before migrating. The connection must be in autocommit mode.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if found > SCHEMA_VERSION:
            raise LedgerVersionError(
                f"the job ledger uses schema v{found} but this sora-mcp knows only up to v{SCHEMA_VERSION}; "
                "upgrade sora-mcp, or point SORA_MCP_HOME at another directory"
            )
        for version in range(found, SCHEMA_VERSION):
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            logger.info("job ledger migrated to schema v%d", version + 1)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return found


def request_fingerprint(
    *,
    model: str,
    seconds: int,
    size: str,
    prompt: str,
    reference_sha256: str | None = None,
    kind: JobKind = "create",
    parent_video_id: str | None = None,
    options: Mapping[str, object] | None = None,
) -> str:
    """A stable hash of what was asked, to recognise our own job among the provider's recent ones.

    The provider's video object echoes model, seconds, size and prompt but not the reference image, so to
    test a listed video compute this from its fields and the record's `reference_sha256`. `options` are the
    per-model request options (audio, seed, last frame hash); absent or empty, the hash is what it always was.
    """
    payload: dict[str, object] = {
        "v": 1,
        "kind": kind,
        "parent_video_id": parent_video_id,
        "model": model,
        "seconds": int(seconds),
        "size": size,
        "prompt": prompt,
        "reference_sha256": reference_sha256,
    }
    if options:
        payload["options"] = dict(options)
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One job as recorded. Times are UTC epoch seconds (float); `day` is the UTC date its cost counts against."""

    local_id: str
    kind: JobKind
    parent_video_id: str | None
    video_id: str | None
    backend: str
    base_url: str | None
    profile: str
    model: str
    seconds: int
    size: str
    prompt: str
    reference_path: str | None
    reference_sha256: str | None
    request_fingerprint: str
    estimated_cost_usd: float | None
    final_cost_usd: float | None
    status: JobStatus
    progress: int
    error_code: str | None
    error_message: str | None
    video_path: str | None
    thumbnail_path: str | None
    spritesheet_path: str | None
    created_at: float
    updated_at: float
    completed_at: float | None
    downloaded_at: float | None
    expires_at: float | None
    day: str
    last_retrieve_at: float | None = None
    idempotency_key: str | None = None
    parent_id: str | None = None
    """The local id of the long video (kind `long`) this job is a segment of."""
    segment: int | None = None
    """This segment's index in its long video, from 0."""

    @property
    def sandbox(self) -> bool:
        return self.backend == "sandbox"

    @property
    def cost_usd(self) -> float | None:
        """What the job counts against the budget: the final cost when known, else the estimate."""
        return self.final_cost_usd if self.final_cost_usd is not None else self.estimated_cost_usd

    def assets_expired(self, now: float | None = None) -> bool:
        """True once the provider's download links are past `expires_at` (or the job is marked expired)."""
        if self.status == "expired":
            return True
        return self.expires_at is not None and (time.time() if now is None else now) >= self.expires_at

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (for `sora://videos/{id}` and structured results)."""
        return dataclasses.asdict(self)


_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(JobRecord))


def _record(row: sqlite3.Row) -> JobRecord:
    values: dict[str, Any] = {}
    for name in _RECORD_FIELDS:
        if name == "estimated_cost_usd":
            values[name] = None if row["estimated_cost_micros"] is None else from_micros(row["estimated_cost_micros"])
        elif name == "final_cost_usd":
            values[name] = None if row["final_cost_micros"] is None else from_micros(row["final_cost_micros"])
        else:
            values[name] = row[name]
    return JobRecord(**values)


def _check_status(status: str, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if status not in allowed:
        raise ValueError(f"status '{status}' is not one of {', '.join(allowed)}")


def _clamp_progress(progress: int | float) -> int:
    return max(0, min(100, int(progress)))


class SyncLedger:
    """The blocking ledger. Thread-safe (a small pool of connections); use one instance per process."""

    def __init__(
        self, path: Path | str, *, clock: Callable[[], float] = time.time, busy_timeout_s: float = 5.0
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._closed = False
        self._pid = os.getpid()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connection() as conn:
                self._enable_wal(conn)
                migrate(conn)
        except (OSError, sqlite3.Error) as exc:
            raise _translate(self.path, exc) from exc

    # -- connections ---------------------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")
        # FULL: a committed intent must survive a power cut, or a paid job could be forgotten.
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL; several processes opening a fresh file together may see it locked for a moment."""
        deadline = time.monotonic() + self._busy_timeout_s
        while True:
            try:
                mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        if mode != "wal":
            raise LedgerError(f"the job ledger {self.path} cannot use WAL mode (got '{mode}'); use a local disk")

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise LedgerError(f"the job ledger {self.path} is closed")
            if self._pid != os.getpid():  # forked: the parent's connections must not be used here
                self._idle, self._pid = [], os.getpid()
            conn = self._idle.pop() if self._idle else None
        try:
            if conn is None:
                conn = self._open()
        except sqlite3.Error as exc:
            raise _translate(self.path, exc) from exc
        try:
            yield conn
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc) or "disk" in str(exc) or "readonly" in str(exc):
                raise _translate(self.path, exc) from exc
            raise
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.IntegrityError):
                raise
            raise _translate(self.path, exc) from exc
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            with self._lock:
                keep = not self._closed and len(self._idle) < 8
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One read-modify-write transaction, holding the write lock from its first statement."""
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def __enter__(self) -> SyncLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers -------------------------------------------------------------------------------------------

    @staticmethod
    def _find(conn: sqlite3.Connection, job_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM jobs WHERE video_id = ? OR local_id = ? LIMIT 1", (job_id, job_id)
        ).fetchone()
        return row

    def _require(self, conn: sqlite3.Connection, job_id: str) -> sqlite3.Row:
        row = self._find(conn, job_id)
        if row is None:
            raise JobNotFound(f"no job '{job_id}' in the ledger {self.path}")
        return row

    @staticmethod
    def _set(conn: sqlite3.Connection, local_id: str, changes: dict[str, object]) -> JobRecord:
        assignments = ", ".join(f"{name} = :{name}" for name in changes)
        conn.execute(f"UPDATE jobs SET {assignments} WHERE local_id = :_local_id", {**changes, "_local_id": local_id})
        return _record(conn.execute("SELECT * FROM jobs WHERE local_id = ?", (local_id,)).fetchone())

    @staticmethod
    def _spent_micros(conn: sqlite3.Connection, day: str, pool: Pool = "provider") -> int:
        """Billed or reserved on `day` in `pool`: failed and refused jobs count nothing."""
        in_pool = "backend = 'sandbox'" if pool == "sandbox" else "backend != 'sandbox'"
        return int(
            conn.execute(
                "SELECT COALESCE(SUM(COALESCE(final_cost_micros, estimated_cost_micros, 0)), 0) FROM jobs "
                f"WHERE day = ? AND status NOT IN ('failed', 'create_failed') AND {in_pool}",
                (day,),
            ).fetchone()[0]
        )

    def _duplicate(
        self, conn: sqlite3.Connection, backend: str, fingerprint: str, key: str | None, window_s: float
    ) -> sqlite3.Row | None:
        """The earlier job an identical request (or the same idempotency key) should get instead of a new one."""
        if key is not None:
            row: sqlite3.Row | None = conn.execute(
                "SELECT * FROM jobs WHERE idempotency_key = ? AND backend = ? ORDER BY created_at DESC LIMIT 1",
                (key, backend),
            ).fetchone()
            if row is not None and row["request_fingerprint"] != fingerprint:
                raise LedgerConflict(
                    f"idempotency_key '{key}' was already used for a different request (job {row['local_id']})"
                )
            return row
        if window_s <= 0:
            return None
        now = self._clock()
        row = conn.execute(
            """
            SELECT * FROM jobs WHERE request_fingerprint = ? AND backend = ? AND idempotency_key IS NULL
              AND created_at >= ? AND status IN ('creating', 'unknown', 'queued', 'in_progress', 'completed')
              AND (expires_at IS NULL OR expires_at > ?)
            ORDER BY created_at DESC LIMIT 1
            """,
            (fingerprint, backend, now - window_s, now),
        ).fetchone()
        return row

    # -- writes --------------------------------------------------------------------------------------------

    def record_intent(
        self,
        *,
        kind: JobKind,
        backend: str,
        base_url: str | None,
        profile: str,
        model: str,
        seconds: int,
        size: str,
        prompt: str,
        estimated_cost_usd: float | None,
        daily_limit_usd: float,
        parent_video_id: str | None = None,
        reference_path: str | Path | None = None,
        reference_sha256: str | None = None,
        idempotency_key: str | None = None,
        duplicate_window_s: float = 0.0,
        options: Mapping[str, object] | None = None,
        parent_id: str | None = None,
        segment: int | None = None,
    ) -> JobRecord:
        """Write the job down as `creating` and reserve its estimate, before the create request is sent.

        Raises `BudgetExceeded` (nothing written) when today's spend plus the estimate would pass the limit;
        a limit of 0 refuses everything. The read of today's spend and the insert share one immediate
        transaction, so concurrent callers in any thread or process cannot both squeeze under the limit.
        An unknown price (`None`) reserves nothing.

        An identical request within `duplicate_window_s` (or one with the same `idempotency_key`) returns the
        earlier job instead, in the same transaction, so a client's retry never pays twice; compare the returned
        `local_id`'s `created_at` with the call to tell (`JobRecord.duplicate_of_call`).

        A segment of a long video (`parent_id` = the `long` job's local id, `segment` its index) takes its cost
        out of the parent's remaining reservation in the same transaction (the parent's estimate is floored at
        0), so the total reserved stays the same and the segments of an admitted plan always fit the budget.
        """
        _check_status(kind, JOB_KINDS)
        if (parent_id is None) != (segment is None):
            raise ValueError("a segment needs both parent_id and segment")
        if segment is not None and (isinstance(segment, bool) or not isinstance(segment, int) or segment < 0):
            raise ValueError(f"segment must be a whole number from 0, not {segment!r}")
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
            raise ValueError(f"seconds must be a positive whole number, not {seconds!r}")
        estimate = None if estimated_cost_usd is None else to_micros(estimated_cost_usd)
        limit = to_micros(max(0.0, daily_limit_usd))
        local_id = str(uuid.uuid4())
        fingerprint = request_fingerprint(
            model=model,
            seconds=seconds,
            size=size,
            prompt=prompt,
            reference_sha256=reference_sha256,
            kind=kind,
            parent_video_id=parent_video_id,
            options=options,
        )
        with self._write() as conn:
            earlier = self._duplicate(conn, backend, fingerprint, idempotency_key, duplicate_window_s)
            if earlier is not None:
                return _record(earlier)
            now = self._clock()
            day = utc_day(now)
            sandbox = backend == "sandbox"
            spent = self._spent_micros(conn, day, "sandbox" if sandbox else "provider")
            setting = "SORA_MCP_SANDBOX_DAILY_BUDGET_USD" if sandbox else "SORA_MCP_DAILY_BUDGET_USD"
            moved = self._take_from_parent(conn, parent_id, estimate or 0, day) if parent_id is not None else 0
            try:
                admit(
                    day=day,
                    limit_micros=limit,
                    spent_micros=spent - moved,
                    requested_micros=estimate or 0,
                    setting=setting,
                )
            except Exception:
                logger.info(
                    "create refused by the budget: spent %d µ$, asked %s µ$, limit %d µ$", spent, estimate, limit
                )
                raise
            conn.execute(
                """
                INSERT INTO jobs (local_id, kind, parent_video_id, backend, base_url, profile, model, seconds, size,
                                  prompt, reference_path, reference_sha256, request_fingerprint,
                                  estimated_cost_micros, status, progress, created_at, updated_at, day,
                                  idempotency_key, parent_id, segment)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'creating', 0, ?, ?, ?, ?, ?, ?)
                """,
                (
                    local_id,
                    kind,
                    parent_video_id,
                    backend,
                    base_url,
                    profile,
                    model,
                    seconds,
                    size,
                    prompt,
                    None if reference_path is None else str(reference_path),
                    reference_sha256,
                    fingerprint,
                    estimate,
                    now,
                    now,
                    day,
                    idempotency_key,
                    parent_id,
                    segment,
                ),
            )
            return _record(conn.execute("SELECT * FROM jobs WHERE local_id = ?", (local_id,)).fetchone())

    def _take_from_parent(self, conn: sqlite3.Connection, parent_id: str, micros: int, day: str) -> int:
        """Move up to `micros` out of the long video's remaining reservation; returns how much moved.

        The admission check that follows counts the parent without the moved part, so a segment of an admitted
        plan fits. A parent that failed (or was refused) reserves nothing, so nothing moves; a parent counted
        on another day moves nothing off today's spend either.
        """
        row = conn.execute("SELECT * FROM jobs WHERE local_id = ?", (parent_id,)).fetchone()
        if row is None or row["kind"] != "long":
            raise JobNotFound(f"no long video with local id '{parent_id}' in the ledger {self.path}")
        if row["status"] in UNBILLED_STATUSES or row["final_cost_micros"] is not None:
            return 0
        remaining = int(row["estimated_cost_micros"] or 0)
        moved = min(remaining, micros)
        if moved:
            conn.execute(
                "UPDATE jobs SET estimated_cost_micros = ?, updated_at = ? WHERE local_id = ?",
                (remaining - moved, self._clock(), parent_id),
            )
        return moved if row["day"] == day else 0

    def attach_video_id(
        self,
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
        with self._write() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE local_id = ?", (local_id,)).fetchone()
            if row is None:
                raise JobNotFound(f"no job with local id '{local_id}' in the ledger {self.path}")
            if row["video_id"] is not None and row["video_id"] != video_id:
                raise LedgerConflict(f"job {local_id} already has video id {row['video_id']}, not {video_id}")
            other = conn.execute(
                "SELECT local_id FROM jobs WHERE video_id = ? AND local_id != ?", (video_id, local_id)
            ).fetchone()
            if other is not None:
                raise LedgerConflict(f"video {video_id} already belongs to job {other['local_id']}")
            changes: dict[str, object] = {"video_id": video_id, "updated_at": self._clock()}
            if row["status"] in ("creating", "unknown", "create_failed"):
                progress = 100 if status == "completed" else _clamp_progress(progress)
                changes.update(status=status, progress=progress, error_code=None, error_message=None)
                if status == "completed":
                    changes["completed_at"] = self._clock()
            else:  # a repeated answer: merge like any other
                changes.update(self._merge(row, status, progress))
            if expires_at is not None:
                changes["expires_at"] = float(expires_at)
            return self._set(conn, local_id, changes)

    def mark_create_failed(self, local_id: str, code: str | None, message: str | None) -> JobRecord:
        """The provider definitely refused the create: nothing is billed, so the reservation is released.

        Only a job still `creating` (or already `create_failed`) can be failed this way; one with a video id
        exists at the provider and raises `LedgerConflict`.
        """
        with self._write() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE local_id = ?", (local_id,)).fetchone()
            if row is None:
                raise JobNotFound(f"no job with local id '{local_id}' in the ledger {self.path}")
            if row["status"] not in ("creating", "unknown", "create_failed") or row["video_id"] is not None:
                raise LedgerConflict(
                    f"job {local_id} was accepted as video {row['video_id']} (status {row['status']}); "
                    "it cannot be marked create_failed"
                )
            return self._set(
                conn,
                local_id,
                {"status": "create_failed", "error_code": code, "error_message": message, "updated_at": self._clock()},
            )

    def mark_unknown(self, local_id: str, code: str | None, message: str | None) -> JobRecord:
        """The create's answer was lost and the provider could not be searched: keep the reservation, say so."""
        with self._write() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE local_id = ?", (local_id,)).fetchone()
            if row is None:
                raise JobNotFound(f"no job with local id '{local_id}' in the ledger {self.path}")
            if row["status"] not in ("creating", "unknown") or row["video_id"] is not None:
                return _record(row)
            return self._set(
                conn,
                local_id,
                {"status": "unknown", "error_code": code, "error_message": message, "updated_at": self._clock()},
            )

    def _merge(self, row: sqlite3.Row, status: str, progress: int | None) -> dict[str, object]:
        """Status and progress after an answer, never moving backwards."""
        current = str(row["status"])
        old_progress = int(row["progress"])
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
        if new_status == "completed" and row["completed_at"] is None:
            changes["completed_at"] = self._clock()
        return changes

    def update_from_provider(
        self,
        video_id: str,
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

        `video_id` may also be a local id. Fields left `None` keep their recorded value.
        """
        _check_status(status, ("queued", "in_progress", "completed", "failed", "expired", "deleted"))
        with self._write() as conn:
            row = self._require(conn, video_id)
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
            return self._set(conn, str(row["local_id"]), changes)

    def set_files(
        self,
        video_id: str,
        *,
        video_path: str | Path | None = None,
        thumbnail_path: str | Path | None = None,
        spritesheet_path: str | Path | None = None,
    ) -> JobRecord:
        """Record downloaded files (only those given); `downloaded_at` is set when the video itself is given."""
        with self._write() as conn:
            row = self._require(conn, video_id)
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
            return self._set(conn, str(row["local_id"]), changes)

    def claim_retrieve(self, video_id: str, min_interval_s: float = 1.0) -> bool:
        """True if this caller may retrieve the job now (none did in the last `min_interval_s`, in any process).

        The claim is recorded, so a second process asking within the interval gets False and should answer
        from the ledger instead. Complements the in-process `RetrieveGate`.
        """
        with self._write() as conn:
            row = self._require(conn, video_id)
            now = self._clock()
            last = row["last_retrieve_at"]
            if last is not None and 0 <= now - float(last) < min_interval_s:
                return False
            conn.execute("UPDATE jobs SET last_retrieve_at = ? WHERE local_id = ?", (now, row["local_id"]))
            return True

    # -- reads ---------------------------------------------------------------------------------------------

    def _select(self, sql: str, params: tuple[object, ...] = ()) -> tuple[JobRecord, ...]:
        with self._connection() as conn:
            return tuple(_record(row) for row in conn.execute(sql, params).fetchall())

    def get(self, job_id: str) -> JobRecord | None:
        """The job with this video id or local id, or None."""
        with self._connection() as conn:
            row = self._find(conn, job_id)
            return None if row is None else _record(row)

    def list(self, limit: int = 50, statuses: Iterable[JobStatus] | None = None) -> tuple[JobRecord, ...]:
        """The most recent jobs first, optionally only those in `statuses`."""
        limit = max(1, min(int(limit), 1000))
        if statuses is None:
            return self._select("SELECT * FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?", (limit,))
        wanted = tuple(statuses)
        for status in wanted:
            _check_status(status, JOB_STATUSES)
        if not wanted:
            return ()
        marks = ", ".join("?" for _ in wanted)
        return self._select(
            f"SELECT * FROM jobs WHERE status IN ({marks}) ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (*wanted, limit),
        )

    def unresolved(self, min_age_s: float = 0.0) -> tuple[JobRecord, ...]:
        """Jobs still `creating` at least `min_age_s` old: the create's answer was never recorded (a crash or
        an ambiguous failure). Reconcile each against the provider's recent jobs, oldest first."""
        cutoff = self._clock() - min_age_s
        return self._select(
            "SELECT * FROM jobs WHERE status IN ('creating', 'unknown') AND kind != 'long' AND created_at <= ? "
            "ORDER BY created_at, rowid",
            (cutoff,),
        )

    def active(self) -> tuple[JobRecord, ...]:
        """Jobs the provider is still working on, for a restarted server to resume polling, oldest first."""
        return self._select(
            "SELECT * FROM jobs WHERE status IN ('queued', 'in_progress') AND kind != 'long' ORDER BY created_at, rowid"
        )

    def children(self, parent_id: str) -> tuple[JobRecord, ...]:
        """The segments of a long video, by segment index (a repeated index: the first recorded first)."""
        return self._select("SELECT * FROM jobs WHERE parent_id = ? ORDER BY segment, created_at, rowid", (parent_id,))

    def undownloaded(self) -> tuple[JobRecord, ...]:
        """Completed jobs whose video was never saved (e.g. a crash right after completion), oldest first."""
        return self._select(
            "SELECT * FROM jobs WHERE status = 'completed' AND video_path IS NULL ORDER BY created_at, rowid"
        )

    def spent_usd(self, day: str | None = None, pool: Pool = "provider") -> float:
        """Spent or reserved on a UTC day (default today) in `pool`: final cost when known, else the estimate."""
        with self._connection() as conn:
            return from_micros(self._spent_micros(conn, day or utc_day(self._clock()), pool))

    def budget(self, daily_limit_usd: float, day: str | None = None, pool: Pool = "provider") -> BudgetSnapshot:
        """Today's (or `day`'s) budget position in `pool`."""
        day = day or utc_day(self._clock())
        spent = self.spent_usd(day, pool)
        limit = max(0.0, daily_limit_usd)
        return BudgetSnapshot(
            day=day, limit_usd=limit, spent_usd=spent, remaining_usd=max(0.0, round(limit - spent, 6))
        )


class Ledger:
    """Async facade over `SyncLedger`: same methods, each run in a worker thread (`anyio.to_thread`).

    Cancelling a caller does not interrupt a transaction: the thread finishes it and the result is dropped.
    Opening (`Ledger(path)`) is synchronous: it creates the file and migrates, once, at start-up.
    """

    def __init__(
        self, path: Path | str, *, clock: Callable[[], float] = time.time, busy_timeout_s: float = 5.0
    ) -> None:
        self.sync = SyncLedger(path, clock=clock, busy_timeout_s=busy_timeout_s)
        self.path = self.sync.path

    async def _run(self, func: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))

    async def record_intent(
        self,
        *,
        kind: JobKind,
        backend: str,
        base_url: str | None,
        profile: str,
        model: str,
        seconds: int,
        size: str,
        prompt: str,
        estimated_cost_usd: float | None,
        daily_limit_usd: float,
        parent_video_id: str | None = None,
        reference_path: str | Path | None = None,
        reference_sha256: str | None = None,
        idempotency_key: str | None = None,
        duplicate_window_s: float = 0.0,
        options: Mapping[str, object] | None = None,
        parent_id: str | None = None,
        segment: int | None = None,
    ) -> JobRecord:
        """See `SyncLedger.record_intent`; raises `BudgetExceeded`."""
        return await self._run(
            self.sync.record_intent,
            kind=kind,
            backend=backend,
            base_url=base_url,
            profile=profile,
            model=model,
            seconds=seconds,
            size=size,
            prompt=prompt,
            estimated_cost_usd=estimated_cost_usd,
            daily_limit_usd=daily_limit_usd,
            parent_video_id=parent_video_id,
            reference_path=reference_path,
            reference_sha256=reference_sha256,
            idempotency_key=idempotency_key,
            duplicate_window_s=duplicate_window_s,
            options=options,
            parent_id=parent_id,
            segment=segment,
        )

    async def attach_video_id(
        self,
        local_id: str,
        video_id: str,
        *,
        status: JobStatus = "queued",
        progress: int = 0,
        expires_at: float | None = None,
    ) -> JobRecord:
        return await self._run(
            self.sync.attach_video_id, local_id, video_id, status=status, progress=progress, expires_at=expires_at
        )

    async def mark_create_failed(self, local_id: str, code: str | None, message: str | None) -> JobRecord:
        return await self._run(self.sync.mark_create_failed, local_id, code, message)

    async def mark_unknown(self, local_id: str, code: str | None, message: str | None) -> JobRecord:
        return await self._run(self.sync.mark_unknown, local_id, code, message)

    async def update_from_provider(
        self,
        video_id: str,
        status: JobStatus,
        *,
        progress: int | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
        completed_at: float | None = None,
        expires_at: float | None = None,
        final_cost_usd: float | None = None,
    ) -> JobRecord:
        return await self._run(
            self.sync.update_from_provider,
            video_id,
            status,
            progress=progress,
            error_code=error_code,
            error_message=error_message,
            completed_at=completed_at,
            expires_at=expires_at,
            final_cost_usd=final_cost_usd,
        )

    async def set_files(
        self,
        video_id: str,
        *,
        video_path: str | Path | None = None,
        thumbnail_path: str | Path | None = None,
        spritesheet_path: str | Path | None = None,
    ) -> JobRecord:
        return await self._run(
            self.sync.set_files,
            video_id,
            video_path=video_path,
            thumbnail_path=thumbnail_path,
            spritesheet_path=spritesheet_path,
        )

    async def claim_retrieve(self, video_id: str, min_interval_s: float = 1.0) -> bool:
        return await self._run(self.sync.claim_retrieve, video_id, min_interval_s)

    async def get(self, job_id: str) -> JobRecord | None:
        return await self._run(self.sync.get, job_id)

    async def list(self, limit: int = 50, statuses: Iterable[JobStatus] | None = None) -> tuple[JobRecord, ...]:
        wanted = None if statuses is None else builtins.list(statuses)
        return await self._run(self.sync.list, limit, wanted)

    async def unresolved(self, min_age_s: float = 0.0) -> tuple[JobRecord, ...]:
        return await self._run(self.sync.unresolved, min_age_s)

    async def active(self) -> tuple[JobRecord, ...]:
        return await self._run(self.sync.active)

    async def undownloaded(self) -> tuple[JobRecord, ...]:
        return await self._run(self.sync.undownloaded)

    async def children(self, parent_id: str) -> tuple[JobRecord, ...]:
        return await self._run(self.sync.children, parent_id)

    async def spent_usd(self, day: str | None = None, pool: Pool = "provider") -> float:
        return await self._run(self.sync.spent_usd, day, pool)

    async def budget(self, daily_limit_usd: float, day: str | None = None, pool: Pool = "provider") -> BudgetSnapshot:
        return await self._run(self.sync.budget, daily_limit_usd, day, pool)

    def close(self) -> None:
        self.sync.close()


__all__ = [
    "ACTIVE_STATUSES",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "TERMINAL_STATUSES",
    "JobKind",
    "JobNotFound",
    "JobRecord",
    "JobStatus",
    "Ledger",
    "LedgerConflict",
    "LedgerError",
    "LedgerUnavailable",
    "LedgerVersionError",
    "SyncLedger",
    "migrate",
    "request_fingerprint",
]
