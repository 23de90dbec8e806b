"""Jobs, uploaded files and the ledger of everything created and billed, kept in SQLite under the storage folder.

The ledger is the sandbox's reason to exist in tests: it proves that a retried request did (or did not)
create and bill a second job. Deleted jobs stay in it; only the API stops showing them.

The store lives on disk (`sandbox.db`, WAL) so that jobs outlive the process that accepted them: hosts such as
MCP Inspector's CLI start one server process per tool call, and the next process must still know the job.
Several processes may use one folder at once, so every write is one short transaction, readers never block
writers, and job timing is computed from persisted timestamps (creation, render end, the job's own duration),
never from anything a process keeps in memory. Within a process one connection serves every thread under a
lock (the server's loop, render workers and the test itself).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from sora_mcp.catalog import ModelSpec
from sora_mcp.sandbox import errors
from sora_mcp.sandbox.body import Upload
from sora_mcp.sandbox.config import RouteName
from sora_mcp.sandbox.lifecycle import Failure, Phase, SandboxStatus, phase_at
from sora_mcp.sandbox.render import Scene
from sora_mcp.sandbox.rules import ListOrder
from sora_mcp.sizes import Size

JobKind = Literal["create", "remix", "edit", "extend"]
Clock = Callable[[], float]

DB_NAME = "sandbox.db"
RENDERS_DIR = "renders"
LOCKS_DIR = "locks"
TMP_DIR = "tmp"
EXTENSIONS = ("mp4", "webp", "jpg")
"""The files of one render, in the order video, thumbnail, spritesheet."""
BUSY_TIMEOUT_MS = 10_000
CACHE_LIMIT = 4096
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    model_name TEXT NOT NULL,
    spec TEXT NOT NULL,
    seconds INTEGER NOT NULL,
    billed_seconds INTEGER NOT NULL,
    size TEXT NOT NULL,
    prompt TEXT NOT NULL,
    created_at REAL NOT NULL,
    duration REAL NOT NULL,
    ttl REAL NOT NULL,
    source_video_id TEXT,
    remixed_from_video_id TEXT,
    extension_steps INTEGER NOT NULL DEFAULT 0,
    failure_code TEXT,
    failure_message TEXT,
    rendered_at REAL,
    bytes INTEGER NOT NULL DEFAULT 0,
    purged_at REAL,
    deleted INTEGER NOT NULL DEFAULT 0,
    audio INTEGER,
    seed INTEGER
);
CREATE TABLE IF NOT EXISTS scenes (
    job_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    start REAL NOT NULL,
    prompt TEXT NOT NULL,
    ref TEXT,
    PRIMARY KEY (job_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS refs (sha TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    filename TEXT,
    content_type TEXT,
    data BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at);
"""

_JOB_COLUMNS = (
    "seq, id, kind, model_name, spec, seconds, billed_seconds, size, prompt, created_at, duration, ttl, "
    "source_video_id, remixed_from_video_id, extension_steps, failure_code, failure_message, rendered_at, "
    "purged_at, deleted, audio, seed"
)
_ADDED_COLUMNS = (("audio", "INTEGER"), ("seed", "INTEGER"))
"""Columns added after the first release: a folder made by an older version gets them on open."""
_OPAQUE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def new_id(prefix: str) -> str:
    """`video_` + 32 hex digits: unguessable, like the provider's ids."""
    return f"{prefix}_{secrets.token_hex(16)}"


def opaque_id(length: int = 20) -> str:
    """A 20-character alphanumeric job id, as OpenRouter's (`S2wge1oFOBzIj1PpFcFu`)."""
    return "".join(secrets.choice(_OPAQUE_ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class Job:
    """One video job as persisted: a snapshot; changes go through the store and are seen on the next read."""

    id: str
    kind: JobKind
    model_name: str
    spec: ModelSpec
    seconds: int
    billed_seconds: int
    size: Size
    prompt: str
    created_at: float
    duration: float
    """Wall seconds from creation to completion, fixed when the job was accepted (the time scale of then)."""
    ttl: float
    """Seconds the content stays downloadable after completion."""
    seq: int = 0
    source_video_id: str | None = None
    remixed_from_video_id: str | None = None
    extension_steps: int = 0
    failure: Failure | None = None
    rendered_at: float | None = None
    purged_at: float | None = None
    """When the render's files were removed (expired, or the storage bound needed the room)."""
    deleted: bool = False
    audio: bool | None = None
    """Audio asked for (OpenRouter's `generate_audio`, models whose audio is optional); None: the model's way."""
    seed: int | None = None

    @property
    def has_audio(self) -> bool:
        """Whether the render carries a soundtrack: always, never, or as asked (optional audio is off by default)."""
        if self.spec.audio == "optional":
            return bool(self.audio)
        return self.spec.audio != "none"

    @property
    def cost_usd(self) -> float | None:
        return self.spec.cost(self.billed_seconds, str(self.size), audio=self.has_audio)

    def phase(self, now: float) -> Phase:
        return phase_at(now, self.created_at, self.duration, self.rendered_at, self.failure)

    @property
    def render_pending(self) -> bool:
        """Not rendered yet (nor refused): some process still has to render it."""
        return self.rendered_at is None and not self.deleted


@dataclass(frozen=True)
class JobRecord:
    """One ledger line: what was created, what it cost, and where it is now."""

    id: str
    kind: JobKind
    model: str
    seconds: int
    billed_seconds: int
    cost_usd: float | None
    size: str
    prompt: str
    created_at: float
    status: SandboxStatus
    source_video_id: str | None
    deleted: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "model": self.model,
            "seconds": self.seconds,
            "billed_seconds": self.billed_seconds,
            "cost_usd": self.cost_usd,
            "size": self.size,
            "prompt": self.prompt,
            "created_at": self.created_at,
            "status": self.status,
            "source_video_id": self.source_video_id,
            "deleted": self.deleted,
        }


@dataclass(frozen=True)
class SandboxState:
    """A consistent snapshot of the ledger: every job ever accepted, and every request seen per route."""

    jobs: tuple[JobRecord, ...]
    requests: dict[str, int]

    @property
    def billed_seconds(self) -> int:
        return sum(job.billed_seconds for job in self.jobs)

    @property
    def billed_usd(self) -> float:
        return round(sum(job.cost_usd or 0.0 for job in self.jobs), 4)

    @property
    def job_ids(self) -> tuple[str, ...]:
        return tuple(job.id for job in self.jobs)

    def job(self, video_id: str) -> JobRecord:
        for job in self.jobs:
            if job.id == video_id:
                return job
        raise KeyError(video_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "object": "sandbox.ledger",
            "jobs": [job.to_json() for job in self.jobs],
            "job_count": len(self.jobs),
            "billed_seconds": self.billed_seconds,
            "billed_usd": self.billed_usd,
            "requests": dict(self.requests),
        }


@dataclass(frozen=True)
class StoredFile:
    id: str
    upload: Upload
    purpose: str
    created_at: float


@dataclass(frozen=True)
class Cleanup:
    """What one cleanup pass removed."""

    jobs_removed: tuple[str, ...] = ()
    """Jobs forgotten entirely (older than the maximum age): the API answers 404 for them now."""
    renders_removed: tuple[str, ...] = ()
    """Jobs whose files were removed (expired, or the oldest when the folder was over its size bound)."""
    bytes_freed: int = 0


def _size(text: str) -> Size:
    width, _, height = text.partition("x")
    return Size(int(width), int(height))


class JobStore:
    """All jobs in creation order, by id; uploaded files; request counts (these per process, in memory)."""

    def __init__(
        self, directory: Path, models: Mapping[str, ModelSpec] | None = None, clock: Clock = time.time
    ) -> None:
        self.clock = clock
        self.models = dict(models or {})
        """Models by id, for jobs whose stored model no longer parses (written by another version)."""
        self.directory = directory
        self.renders = directory / RENDERS_DIR
        self.locks = directory / LOCKS_DIR
        self.tmp = directory / TMP_DIR
        for folder in (self.renders, self.locks, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._requests: Counter[str] = Counter()
        self._specs: dict[str, ModelSpec] = {}
        self._cache: dict[object, Any] = {}
        """Jobs and list pages read since the database last changed (see `_fresh`)."""
        self._cache_version = -1
        self._db = sqlite3.connect(
            directory / DB_NAME, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        with self._write() as db:
            db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
            self._add_columns(db)

    @staticmethod
    def _add_columns(db: sqlite3.Connection) -> None:
        """Give a jobs table from an older version the newer columns (one transaction; others may race us)."""
        present = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
        if all(name in present for name, _ in _ADDED_COLUMNS):
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            present = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
            for name, kind in _ADDED_COLUMNS:
                if name not in present:
                    db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self._db.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            try:
                yield self._db
            finally:
                self._cache.clear()

    def _fresh(self) -> dict[object, Any]:
        """The read cache, emptied if another connection (any process) committed since it was filled.

        `PRAGMA data_version` changes exactly when another connection commits; this connection's own writes
        empty the cache themselves. Retrieve and list then cost a dict lookup instead of a query and a parse.
        Call with the lock held.
        """
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._cache_version or len(self._cache) > CACHE_LIMIT:
            self._cache.clear()
            self._cache_version = version
        return self._cache

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction: taken at once (IMMEDIATE) so concurrent writers queue, never deadlock."""
        with self.lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                self._cache.clear()
            self._db.execute("COMMIT")

    # -- paths -------------------------------------------------------------------------------------

    def render_paths(self, video_id: str) -> tuple[Path, Path, Path]:
        """Where a job's video, thumbnail and spritesheet are once rendered."""
        video, thumbnail, spritesheet = (self.renders / f"{video_id}.{ext}" for ext in EXTENSIONS)
        return video, thumbnail, spritesheet

    def remove_render(self, video_id: str) -> int:
        """Remove a job's files (and any half-done render); the bytes freed."""
        freed = 0
        for path in self.render_paths(video_id):
            with contextlib.suppress(FileNotFoundError):
                freed += path.stat().st_size
                path.unlink()
        _remove_tree(self.tmp / video_id)
        return freed

    @contextlib.contextmanager
    def render_lock(self, video_id: str) -> Iterator[bool]:
        """Try to take the job's cross-process render lock (a `flock` on a lock file) without waiting.

        Yields whether it was taken. The kernel drops the lock when its holder exits, even by a crash, so a
        render left unfinished by a dead process is picked up by the next one that asks.
        """
        path = self.locks / f"{video_id}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def drop_lock_file(self, video_id: str) -> None:
        """Remove the lock file of a job that needs no render any more (call while holding its lock)."""
        (self.locks / f"{video_id}.lock").unlink(missing_ok=True)

    # -- jobs --------------------------------------------------------------------------------------

    def count_request(self, route: RouteName) -> None:
        with self.lock:
            self._requests[route] += 1

    def add(self, job: Job, scenes: tuple[Scene, ...]) -> Job:
        """Accept (and so bill) a job; returns it with its sequence number."""
        refs = [(hashlib.sha256(s.reference).hexdigest(), s.reference) if s.reference else None for s in scenes]
        failure = job.failure
        with self._transaction() as db:
            for ref in refs:
                if ref is not None:
                    db.execute("INSERT OR IGNORE INTO refs (sha, data) VALUES (?, ?)", ref)
            cursor = db.execute(
                "INSERT INTO jobs (id, kind, model_name, spec, seconds, billed_seconds, size, prompt, created_at, "
                "duration, ttl, source_video_id, remixed_from_video_id, extension_steps, failure_code, "
                "failure_message, rendered_at, audio, seed) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.id,
                    job.kind,
                    job.model_name,
                    job.spec.model_dump_json(),
                    job.seconds,
                    job.billed_seconds,
                    str(job.size),
                    job.prompt,
                    job.created_at,
                    job.duration,
                    job.ttl,
                    job.source_video_id,
                    job.remixed_from_video_id,
                    job.extension_steps,
                    failure.code if failure else None,
                    failure.message if failure else None,
                    job.rendered_at,
                    None if job.audio is None else int(job.audio),
                    job.seed,
                ),
            )
            db.executemany(
                "INSERT INTO scenes (job_id, idx, start, prompt, ref) VALUES (?, ?, ?, ?, ?)",
                [
                    (job.id, index, scene.start, scene.prompt, ref[0] if ref else None)
                    for index, (scene, ref) in enumerate(zip(scenes, refs, strict=True))
                ],
            )
            seq = cursor.lastrowid
        assert seq is not None
        return replace(job, seq=seq)

    def _spec(self, text: str, model_name: str) -> ModelSpec:
        spec = self._specs.get(text)
        if spec is None:
            try:
                spec = ModelSpec.model_validate_json(text)
            except ValueError:  # written by another version of sora-mcp: the current catalog's model, if any
                spec = self.models.get(model_name)
                if spec is None:
                    raise
            self._specs[text] = spec
        return spec

    def _job(self, row: tuple[Any, ...]) -> Job:
        (seq, video_id, kind, model_name, spec, seconds, billed, size, prompt, created_at, duration, ttl) = row[:12]
        (source, remixed, steps, failure_code, failure_message, rendered_at, purged_at, deleted) = row[12:20]
        audio, seed = row[20:22]
        return Job(
            id=video_id,
            kind=kind,
            model_name=model_name,
            spec=self._spec(spec, model_name),
            seconds=seconds,
            billed_seconds=billed,
            size=_size(size),
            prompt=prompt,
            created_at=created_at,
            duration=duration,
            ttl=ttl,
            seq=seq,
            source_video_id=source,
            remixed_from_video_id=remixed,
            extension_steps=steps,
            failure=Failure(failure_code, failure_message) if failure_code is not None else None,
            rendered_at=rendered_at,
            purged_at=purged_at,
            deleted=bool(deleted),
            audio=None if audio is None else bool(audio),
            seed=seed,
        )

    def find(self, video_id: str) -> Job | None:
        """The job as persisted now, deleted or not; None when it was never accepted or has been cleaned up."""
        with self.lock:
            cache = self._fresh()
            job: Job | None = cache.get(video_id)
            if job is None:
                row = self._db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (video_id,)).fetchone()
                if row is None:
                    return None
                job = cache[video_id] = self._job(row)
            return job

    def get(self, video_id: str) -> Job:
        """A live job, or the API's 404."""
        job = self.find(video_id)
        if job is None or job.deleted:
            raise errors.video_not_found(video_id)
        return job

    def scenes(self, video_id: str) -> tuple[Scene, ...]:
        with self.lock:
            rows = self._db.execute(
                "SELECT s.start, s.prompt, r.data FROM scenes s LEFT JOIN refs r ON r.sha = s.ref "
                "WHERE s.job_id = ? ORDER BY s.idx",
                (video_id,),
            ).fetchall()
        return tuple(Scene(start, prompt, data) for start, prompt, data in rows)

    def page(self, after: str | None, limit: int, order: ListOrder) -> tuple[list[Job], bool]:
        """Live jobs after the cursor in the given order, and whether more follow."""
        with self.lock:
            cache = self._fresh()
            key = ("page", after, limit, order)
            cached: tuple[list[Job], bool] | None = cache.get(key)
            if cached is not None:
                return cached
            clauses, params = ["deleted = 0"], []
            if after is not None:
                cursor = self._db.execute("SELECT seq FROM jobs WHERE id = ?", (after,)).fetchone()
                if cursor is None:
                    raise errors.video_not_found(after, param="after")
                clauses.append("seq > ?" if order == "asc" else "seq < ?")
                params.append(cursor[0])
            direction = "ASC" if order == "asc" else "DESC"
            rows = self._db.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {' AND '.join(clauses)} ORDER BY seq {direction} LIMIT ?",
                (*params, limit + 1),
            ).fetchall()
            jobs = [self._job(row) for row in rows]
            page = cache[key] = (jobs[:limit], len(jobs) > limit)
        return page

    def mark_deleted(self, video_id: str) -> None:
        with self._write() as db:
            db.execute("UPDATE jobs SET deleted = 1, bytes = 0 WHERE id = ?", (video_id,))

    def set_rendered(self, video_id: str, rendered_at: float, failure: Failure | None, size: int) -> bool:
        """Record a finished render; False when the job is gone, deleted or already rendered (keep nothing)."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE jobs SET rendered_at = ?, failure_code = ?, failure_message = ?, bytes = ? "
                "WHERE id = ? AND rendered_at IS NULL AND deleted = 0",
                (rendered_at, failure.code if failure else None, failure.message if failure else None, size, video_id),
            )
            return cursor.rowcount == 1

    def unfinished(self) -> int:
        now = self.clock()
        with self.lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM jobs WHERE deleted = 0 AND "
                "(rendered_at IS NULL OR MAX(created_at + duration, rendered_at) > ?)",
                (now,),
            ).fetchone()
        return int(row[0])

    def pending_renders(self) -> list[str]:
        """Jobs nobody has rendered yet, oldest first."""
        with self.lock:
            rows = self._db.execute(
                "SELECT id FROM jobs WHERE rendered_at IS NULL AND deleted = 0 ORDER BY seq"
            ).fetchall()
        return [row[0] for row in rows]

    def clear(self) -> list[str]:
        """Forget every job, file and request count; returns the ids forgotten (to cancel and clean up)."""
        with self._transaction() as db:
            ids = [row[0] for row in db.execute("SELECT id FROM jobs").fetchall()]
            for table in ("jobs", "scenes", "refs", "files"):
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM sqlite_sequence WHERE name = 'jobs'")
        with self.lock:
            self._requests.clear()
        return ids

    def add_file(self, upload: Upload, purpose: str) -> StoredFile:
        stored = StoredFile(id=f"file-{secrets.token_hex(12)}", upload=upload, purpose=purpose, created_at=self.clock())
        with self._write() as db:
            db.execute(
                "INSERT INTO files (id, purpose, filename, content_type, data, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (stored.id, purpose, upload.filename, upload.content_type, upload.data, stored.created_at),
            )
        return stored

    def file_bytes(self, file_id: str) -> bytes | None:
        with self.lock:
            row = self._db.execute("SELECT data FROM files WHERE id = ?", (file_id,)).fetchone()
        return bytes(row[0]) if row is not None else None

    def stored_bytes(self) -> int:
        """Bytes of renders on disk, as recorded."""
        with self.lock:
            return int(self._db.execute("SELECT COALESCE(SUM(bytes), 0) FROM jobs").fetchone()[0])

    def snapshot(self) -> SandboxState:
        now = self.clock()
        with self.lock:
            rows = self._db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs ORDER BY seq").fetchall()
            jobs = [self._job(row) for row in rows]
            requests = dict(self._requests)
        records = tuple(
            JobRecord(
                id=j.id,
                kind=j.kind,
                model=j.model_name,
                seconds=j.seconds,
                billed_seconds=j.billed_seconds,
                cost_usd=j.cost_usd,
                size=str(j.size),
                prompt=j.prompt,
                created_at=j.created_at,
                status=j.phase(now).status,
                source_video_id=j.source_video_id,
                deleted=j.deleted,
            )
            for j in jobs
        )
        return SandboxState(jobs=records, requests=requests)

    # -- bounds ------------------------------------------------------------------------------------

    def cleanup(self, max_age_seconds: float, max_bytes: int, reserve: int = 0) -> Cleanup:
        """Keep the folder bounded: forget jobs older than the age, drop renders past their expiry, then the
        oldest renders while the total plus `reserve` (a render about to be recorded) is over `max_bytes`.
        Database first (one short transaction), files after: a render whose row says "purged" is never served
        again, whoever removes its files.
        """
        now = self.clock()
        with self._transaction() as db:
            old = [row[0] for row in db.execute("SELECT id FROM jobs WHERE created_at < ?", (now - max_age_seconds,))]
            db.executemany("DELETE FROM jobs WHERE id = ?", [(i,) for i in old])
            db.executemany("DELETE FROM scenes WHERE job_id = ?", [(i,) for i in old])
            db.execute("DELETE FROM refs WHERE sha NOT IN (SELECT ref FROM scenes WHERE ref IS NOT NULL)")
            db.execute("DELETE FROM files WHERE created_at < ?", (now - max_age_seconds,))
            expired = [
                row[0]
                for row in db.execute(
                    "SELECT id FROM jobs WHERE purged_at IS NULL AND deleted = 0 AND rendered_at IS NOT NULL "
                    "AND failure_code IS NULL AND MAX(created_at + duration, rendered_at) + ttl <= ?",
                    (now,),
                )
            ]
            total = int(db.execute("SELECT COALESCE(SUM(bytes), 0) FROM jobs").fetchone()[0])
            total += reserve
            total -= int(
                db.execute(
                    f"SELECT COALESCE(SUM(bytes), 0) FROM jobs WHERE id IN ({','.join('?' * len(expired))})",
                    expired,
                ).fetchone()[0]
            )
            over: list[str] = []
            if total > max_bytes:
                for video_id, size in db.execute(
                    "SELECT id, bytes FROM jobs WHERE purged_at IS NULL AND bytes > 0 ORDER BY seq"
                ):
                    if total <= max_bytes:
                        break
                    if video_id not in expired:
                        over.append(video_id)
                        total -= size
            purged = [*expired, *over]
            db.executemany("UPDATE jobs SET purged_at = ?, bytes = 0 WHERE id = ?", [(now, i) for i in purged])
        freed = 0
        for video_id in [*old, *purged]:
            freed += self.remove_render(video_id)
        for video_id in old:
            self.drop_lock_file(video_id)
        return Cleanup(jobs_removed=tuple(old), renders_removed=tuple(purged), bytes_freed=freed)

    def sweep(self, grace_seconds: float) -> int:
        """Remove files no live render owns (left by a crash or by another process's reset), if older than the
        grace period (a render moves its files in just before recording itself). Returns how many."""
        with self.lock:
            live = {
                row[0]
                for row in self._db.execute(
                    "SELECT id FROM jobs WHERE deleted = 0 AND purged_at IS NULL AND "
                    "(rendered_at IS NULL OR failure_code IS NULL)"
                )
            }
        cutoff = time.time() - grace_seconds
        removed = 0
        legacy = [p for p in self.directory.glob("video_*.*") if p.suffix.lstrip(".") in EXTENSIONS]
        for path in legacy:  # renders of the in-memory sandbox (before jobs were kept), at the top of the folder
            path.unlink(missing_ok=True)
            removed += 1
        for folder in (self.renders, self.tmp, self.locks):
            for path in folder.iterdir():
                stem = path.name.split(".", 1)[0]
                if stem in live:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    if path.lstat().st_mtime < cutoff:
                        _remove_tree(path) if path.is_dir() else path.unlink()
                        removed += 1
        return removed


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
