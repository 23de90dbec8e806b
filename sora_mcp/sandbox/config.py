"""How a sandbox behaves: its catalog and key, how long jobs take, and the faults it injects on demand.

`Faults` is deliberately mutable and thread-safe: a test flips it while the server runs in another thread
(e.g. "the next create is accepted but its answer is lost") and then proves what the client did about it.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from sora_mcp.catalog import Catalog, Dialect

RouteName = Literal[
    "create", "retrieve", "list", "delete", "content", "remix", "extend", "edit", "upload_file", "models"
]
ROUTES: tuple[RouteName, ...] = get_args(RouteName)
DIALECTS: tuple[Dialect, ...] = get_args(Dialect)
API_PATHS: dict[Dialect, str] = {"openai": "/v1", "openrouter": "/api/v1", "new-api": "/v1"}
"""Where each dialect's API lives under the server's root (OpenRouter: `https://openrouter.ai/api/v1`)."""
JOB_CREATING_ROUTES: frozenset[RouteName] = frozenset({"create", "remix", "extend", "edit"})
"""Routes that accept a job and bill it: the ones a lost answer can make a client repeat."""


@dataclass
class Faults:
    """Failures to inject, per sandbox instance. Change any field at run time; counters count down.

    `routes` limits latency, 5xx and 429 faults to some routes (None: every API route); `drop_next_creates`
    acts only on job-creating routes and the download faults only on `content`. The sandbox's own debug
    routes never fail.
    """

    latency_seconds: float = 0.0
    """Added before every matching request is handled."""
    error_rate_5xx: float = 0.0
    """Probability (0..1) that a matching request answers `error_status`, drawn from a seeded RNG."""
    fail_next_requests: int = 0
    """The next N matching requests answer `error_status` (deterministic alternative to the rate)."""
    error_status: int = 500
    rate_limit_next: int = 0
    """The next N matching requests answer 429 with `Retry-After: retry_after_seconds`."""
    retry_after_seconds: float = 1.0
    drop_next_creates: int = 0
    """The next N job-creating requests are accepted (the job exists and is billed), then the connection is
    closed without any HTTP answer: what a client sees when a response is lost."""
    download_bytes_per_second: float | None = None
    """Throttle content downloads to this rate."""
    truncate_downloads: bool = False
    """Content downloads announce the full Content-Length, send half the bytes, then close the connection."""
    max_running_jobs: int | None = None
    """Creating beyond this many unfinished jobs answers 429 `Too many running tasks` (Azure allows 2)."""
    routes: frozenset[RouteName] | None = None
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(init=False, repr=False, compare=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        if self.routes is not None:
            unknown = set(self.routes) - set(ROUTES)
            if unknown:
                raise ValueError(f"unknown routes {sorted(unknown)}; routes are {', '.join(ROUTES)}")
            self.routes = frozenset(self.routes)

    def targets(self, route: RouteName) -> bool:
        """Whether latency, 5xx and 429 faults apply to `route`."""
        return self.routes is None or route in self.routes

    def take_rate_limit(self, route: RouteName) -> bool:
        with self._lock:
            if self.rate_limit_next > 0 and self.targets(route):
                self.rate_limit_next -= 1
                return True
            return False

    def take_server_error(self, route: RouteName) -> bool:
        with self._lock:
            if not self.targets(route):
                return False
            if self.fail_next_requests > 0:
                self.fail_next_requests -= 1
                return True
            return self.error_rate_5xx > 0 and self._rng.random() < self.error_rate_5xx

    def take_drop(self, route: RouteName) -> bool:
        with self._lock:
            if self.drop_next_creates > 0 and route in JOB_CREATING_ROUTES and self.targets(route):
                self.drop_next_creates -= 1
                return True
            return False

    def reset(self) -> None:
        """Back to no faults at all (the RNG restarts from `seed`)."""
        with self._lock:
            self.latency_seconds = 0.0
            self.error_rate_5xx = 0.0
            self.fail_next_requests = 0
            self.error_status = 500
            self.rate_limit_next = 0
            self.retry_after_seconds = 1.0
            self.drop_next_creates = 0
            self.download_bytes_per_second = None
            self.truncate_downloads = False
            self.max_running_jobs = None
            self.routes = None
            self._rng = random.Random(self.seed)


@dataclass(frozen=True)
class SandboxConfig:
    """Everything a sandbox needs; `faults` stays mutable while the server runs."""

    catalog: Catalog
    dialect: Dialect | None = None
    """The wire format to speak: `openai` (`/v1/videos`), `openrouter` (`/api/v1/videos`, its statuses, model
    listing and error shape) or `new-api` (the OpenAI shape as New-API gateways serve it: `task_` ids with a
    `task_id` alias, coarse progress, `metadata.resolution`). None: the catalog's own dialect."""
    api_key: str | None = None
    """The only bearer key accepted; None accepts any non-empty key."""
    time_scale: float = 1.0
    job_seconds: float = 6.0
    """Wall time from queued to completed before scaling; a job never completes before its render has."""
    moderation_marker: str = "[blocked]"
    """A prompt containing this ends `failed` with `moderation_blocked` (output moderation)."""
    input_moderation_marker: str = "[blocked-input]"
    """A prompt containing this is refused at once with 400 (input moderation, e.g. a real face)."""
    cancelled_marker: str = "[cancelled]"
    """OpenRouter dialect: a prompt containing this ends `cancelled` ("Job was cancelled")."""
    expired_marker: str = "[expired]"
    """OpenRouter dialect: a prompt containing this ends `expired` ("Job exceeded maximum time to live")."""
    asset_ttl_seconds: float = 3600.0
    """Downloads expire this long after completion (OpenAI's guide: 1 hour)."""
    faults: Faults = field(default_factory=Faults)
    fps: int = 10
    """Frame rate of renders: low on purpose, to keep CPU use small."""
    render_workers: int = 2
    storage_dir: Path | None = None
    """Where jobs (`sandbox.db`) and rendered files are kept; None: a temporary directory removed when the server
    stops. Jobs in a named folder outlive the process: a later sandbox on the same folder knows them, finishes
    their renders and serves their files (several sandboxes may share one folder at once)."""
    max_age_seconds: float = 7 * 24 * 3600.0
    """Jobs older than this are forgotten (404), their files removed."""
    max_storage_bytes: int = 2 * 1024**3
    """Renders beyond this total are removed oldest first (their content then answers `video_expired`)."""
    cleanup_interval_seconds: float = 60.0
    """How often (at most) requests enforce the bounds; they are also enforced at start and before each render is
    recorded (so the size bound holds whenever a job is seen completed)."""
    poll_after_ms: int = 2000
    """Suggested polling interval before scaling, sent as `openai-poll-after-ms` on retrieve."""

    def __post_init__(self) -> None:
        if self.dialect is None:
            object.__setattr__(self, "dialect", self.catalog.dialect)
        if self.dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}, not {self.dialect!r}")
        if self.time_scale < 0 or self.job_seconds < 0:
            raise ValueError("time_scale and job_seconds must not be negative")
        if self.asset_ttl_seconds <= 0:
            raise ValueError("asset_ttl_seconds must be positive")
        if not 1 <= self.fps <= 60:
            raise ValueError("fps must be between 1 and 60")
        if self.max_age_seconds <= 0 or self.max_storage_bytes < 0 or self.cleanup_interval_seconds < 0:
            raise ValueError(
                "max_age_seconds must be positive; max_storage_bytes and cleanup_interval_seconds not negative"
            )
        if self.render_workers < 1:
            raise ValueError("render_workers must be at least 1")
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("api_key must be None (accept any key) or a non-empty key")

    @property
    def wire(self) -> Dialect:
        """The dialect spoken (the catalog's when none was given)."""
        return self.dialect or self.catalog.dialect

    @property
    def api_path(self) -> str:
        """`/v1`, or `/api/v1` for OpenRouter: what a client's base URL ends with."""
        return API_PATHS[self.wire]

    @property
    def job_wall_seconds(self) -> float:
        """How long a job takes from creation to completion, in real seconds."""
        return self.job_seconds * self.time_scale

    @property
    def poll_after(self) -> int:
        """The polling hint in milliseconds, scaled like the jobs, never below 20 ms."""
        return max(20, round(self.poll_after_ms * self.time_scale))
