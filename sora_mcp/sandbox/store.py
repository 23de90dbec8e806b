"""Jobs, uploaded files and the ledger of everything created and billed.

The ledger is the sandbox's reason to exist in tests: it proves that a retried request did (or did not)
create and bill a second job. Deleted jobs stay in it; only the API stops showing them. One lock guards
everything because three threads touch it: the server's loop, render workers and the test itself.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sora_mcp.catalog import ModelSpec
from sora_mcp.sandbox import errors
from sora_mcp.sandbox.body import Upload
from sora_mcp.sandbox.config import RouteName
from sora_mcp.sandbox.lifecycle import Failure, JobStatus, Phase, phase_at
from sora_mcp.sandbox.render import Assets, Scene
from sora_mcp.sandbox.rules import ListOrder
from sora_mcp.sizes import Size

JobKind = Literal["create", "remix", "edit", "extend"]
Clock = Callable[[], float]


def new_id(prefix: str) -> str:
    """`video_` + 32 hex digits: unguessable, like the provider's ids."""
    return f"{prefix}_{secrets.token_hex(16)}"


@dataclass
class Job:
    """One video job. Fields set after creation (render result, deletion) change only under the store lock."""

    id: str
    kind: JobKind
    model_name: str
    spec: ModelSpec
    seconds: int
    billed_seconds: int
    size: Size
    prompt: str
    scenes: tuple[Scene, ...]
    created_at: float
    seq: int = 0
    source_video_id: str | None = None
    remixed_from_video_id: str | None = None
    extension_steps: int = 0
    failure: Failure | None = None
    rendered_at: float | None = None
    assets: Assets | None = None
    deleted: bool = False
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def cost_usd(self) -> float | None:
        return self.spec.cost(self.billed_seconds, str(self.size))

    def phase(self, now: float, duration: float) -> Phase:
        return phase_at(now, self.created_at, duration, self.rendered_at, self.failure)


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
    status: JobStatus
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


class JobStore:
    """All jobs in creation order, by id; uploaded files; request counts."""

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._files: dict[str, StoredFile] = {}
        self._requests: Counter[str] = Counter()
        self._seq = 0

    def count_request(self, route: RouteName) -> None:
        with self.lock:
            self._requests[route] += 1

    def add(self, job: Job) -> Job:
        """Accept (and so bill) a job."""
        with self.lock:
            self._seq += 1
            job.seq = self._seq
            self._jobs[job.id] = job
            return job

    def get(self, video_id: str) -> Job:
        """A live job, or the API's 404."""
        with self.lock:
            job = self._jobs.get(video_id)
            if job is None or job.deleted:
                raise errors.video_not_found(video_id)
            return job

    def page(self, after: str | None, limit: int, order: ListOrder) -> tuple[list[Job], bool]:
        """Live jobs after the cursor in the given order, and whether more follow."""
        with self.lock:
            jobs = sorted(self._jobs.values(), key=lambda j: j.seq, reverse=order == "desc")
            if after is not None:
                cursor = self._jobs.get(after)
                if cursor is None:
                    raise errors.video_not_found(after, param="after")
                jobs = [j for j in jobs if (j.seq > cursor.seq if order == "asc" else j.seq < cursor.seq)]
            live = [j for j in jobs if not j.deleted]
            return live[:limit], len(live) > limit

    def mark_deleted(self, job: Job) -> None:
        with self.lock:
            job.deleted = True
            job.cancel.set()

    def unfinished(self, duration: float) -> int:
        now = self.clock()
        with self.lock:
            return sum(1 for j in self._jobs.values() if not j.deleted and not j.phase(now, duration).finished)

    def clear(self) -> list[Job]:
        """Forget every job, file and request count; returns the jobs forgotten (to cancel and clean up)."""
        with self.lock:
            jobs = list(self._jobs.values())
            self._jobs.clear()
            self._files.clear()
            self._requests.clear()
            return jobs

    def all_jobs(self) -> list[Job]:
        with self.lock:
            return list(self._jobs.values())

    def add_file(self, upload: Upload, purpose: str) -> StoredFile:
        stored = StoredFile(id=f"file-{secrets.token_hex(12)}", upload=upload, purpose=purpose, created_at=self.clock())
        with self.lock:
            self._files[stored.id] = stored
        return stored

    def file_bytes(self, file_id: str) -> bytes | None:
        with self.lock:
            stored = self._files.get(file_id)
            return stored.upload.data if stored else None

    def snapshot(self, duration: float) -> SandboxState:
        now = self.clock()
        with self.lock:
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
                    status=j.phase(now, duration).status,
                    source_video_id=j.source_video_id,
                    deleted=j.deleted,
                )
                for j in sorted(self._jobs.values(), key=lambda j: j.seq)
            )
            return SandboxState(jobs=records, requests=dict(self._requests))
