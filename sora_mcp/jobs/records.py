"""What a video job is: its kinds and statuses, the intent recorded before a request leaves, the record kept.

No storage here: the ledger (`sora_mcp.jobs.ledger`) turns intents into records and rows back into records.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

JobKind = Literal["create", "remix", "extend", "edit", "long"]
"""`long` is a long-video plan: an ordinary row holding the whole plan's reservation; its segments are jobs
whose `parent_id` names it."""
JobStatus = Literal[
    "creating", "unknown", "queued", "in_progress", "completed", "failed", "create_failed", "expired", "deleted"
]
JOB_KINDS: tuple[str, ...] = get_args(JobKind)
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)
UNBILLED_STATUSES: tuple[JobStatus, ...] = ("failed", "create_failed")
"""Providers do not bill failed, blocked or cancelled jobs, nor creates they refused: the budget releases them."""
Pool = Literal["sandbox", "provider"]
"""Spend is counted per pool: playing with the sandbox never blocks real work."""


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
    plan: tuple[str, int] | None = None,
) -> str:
    """A stable hash of what was asked, to recognise our own job among the provider's recent ones.

    The provider's video object echoes model, seconds, size and prompt but not the reference image, so to
    test a listed video compute this from its fields and the record's `reference_sha256`. `options` are the
    per-model request options (audio, seed, last frame hash) and `plan` a segment's (parent id, segment): a
    shot of one plan is never taken for the same shot of another. Absent, the hash is what it always was.
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
    if plan is not None:
        payload["plan"] = [plan[0], int(plan[1])]
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class JobIntent:
    """One request about to be sent (or a long-video plan about to run), as the ledger records it first.

    A segment of a long video names its plan's local id in `parent_id` and its index in `segment`; its cost
    then moves out of the plan's reservation instead of being admitted again. Invalid values (a kind that does
    not exist, seconds that are not a positive whole number, a negative price) raise `ValueError` here, so an
    intent that exists can be recorded.
    """

    kind: JobKind
    backend: str
    base_url: str | None
    profile: str
    model: str
    seconds: int
    size: str
    prompt: str
    estimated_cost_usd: float | None
    parent_video_id: str | None = None
    reference_path: str | None = None
    reference_sha256: str | None = None
    idempotency_key: str | None = None
    options: Mapping[str, object] | None = None
    parent_id: str | None = None
    segment: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in JOB_KINDS:
            raise ValueError(f"kind '{self.kind}' is not one of {', '.join(JOB_KINDS)}")
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, int) or self.seconds <= 0:
            raise ValueError(f"seconds must be a positive whole number, not {self.seconds!r}")
        cost = self.estimated_cost_usd
        if cost is not None and not (isinstance(cost, int | float) and cost >= 0 and cost != float("inf")):
            raise ValueError(f"an amount of money must be a finite number ≥ 0, not {cost!r}")
        if (self.parent_id is None) != (self.segment is None):
            raise ValueError("a segment needs both parent_id and segment (or neither)")
        if self.segment is not None and (isinstance(self.segment, bool) or self.segment < 0):
            raise ValueError(f"segment must be a whole number ≥ 0, not {self.segment!r}")

    @property
    def fingerprint(self) -> str:
        return request_fingerprint(
            model=self.model,
            seconds=self.seconds,
            size=self.size,
            prompt=self.prompt,
            reference_sha256=self.reference_sha256,
            kind=self.kind,
            parent_video_id=self.parent_video_id,
            options=self.options,
            plan=None if self.parent_id is None or self.segment is None else (self.parent_id, self.segment),
        )


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One job as recorded. Times are UTC epoch seconds (float); `day` is the UTC date its cost counts against."""

    local_id: str
    tenant: str
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
    """The long-video plan (its local id) this job is a segment of."""
    segment: int | None = None
    download_claimed_at: float | None = None
    """When a process (of any replica) took on downloading the files; see `Ledger.claim_download`."""

    @property
    def cost_usd(self) -> float | None:
        """What the job counts against the budget: the final cost when known, else the estimate."""
        return self.final_cost_usd if self.final_cost_usd is not None else self.estimated_cost_usd

    def assets_expired(self, now: float | None = None) -> bool:
        """True once the provider's download links are past `expires_at` (or the job is marked expired)."""
        if self.status == "expired":
            return True
        return self.expires_at is not None and (time.time() if now is None else now) >= self.expires_at
