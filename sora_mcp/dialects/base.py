"""What every dialect shares: the canonical request, the normalised job, the wire body and answer reading helpers.

A provider's answer is untrusted data: the helpers here read it defensively (wrong types become defaults or an
`Unusable`), redact it with the client's key and clip it. Job ids are checked by `id_problem`: an id is a
token for URLs (always percent-encoded) and never a file name (`file_stem` maps it to one).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from sora_mcp.redaction import redact

if TYPE_CHECKING:
    from sora_mcp.catalog import ModelSpec

VideoVariant = Literal["video", "thumbnail", "spritesheet"]
ProviderStatus = Literal["queued", "in_progress", "completed", "failed", "expired"]
"""The ledger's provider-side statuses; every provider status is mapped onto one of these or refused."""

STATUS_ALIASES: Mapping[str, ProviderStatus] = {
    "queued": "queued",
    "pending": "queued",
    "in_progress": "in_progress",
    "processing": "in_progress",
    "running": "in_progress",
    "completed": "completed",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "failed",
    "canceled": "failed",
    "expired": "expired",
}
"""Provider status (lower case) → ledger status. `cancelled`/`canceled` end `failed` with error code `cancelled`."""

MAX_ID_CHARS = 512
"""LiteLLM's `video_<base64 of provider, model, upstream id and deployment>` ids run to about 300 characters."""
VIDEO_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:=+/-]{0,511}")
"""What a job id may look like on the wire: LiteLLM's base64 ids bring '=', '+' and '/'. Ids only ever go into
URLs percent-encoded (a '/' cannot change the route) and never into file names as they are (see `file_stem`)."""
FILE_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}")
"""Ids that may name a file as they are; any other id is named by its hash."""
MAX_TEXT = 2000
"""Provider text (error messages, prompts) is cut to this many characters."""


class Unusable(Exception):
    """An answer that cannot be used; `code` is `unusable_answer` or `unsafe_id`."""

    def __init__(self, why: str, code: str = "unusable_answer") -> None:
        super().__init__(why)
        self.why = why
        self.code = code


@dataclass(frozen=True)
class JobSnapshot:
    """What the provider says about one job, normalised (seconds as an int, missing fields as None).

    `status` is already mapped to the ledger's set. `created_at` is always an int: when the provider gave none
    (or nonsense) it is the time the answer was read and `created_at_known` is False, so a reconciler comparing
    it to a window treats the job as just created (it must still match the request exactly). `cost_usd` is what
    the provider says the job cost (OpenRouter's `usage.cost`), when it says.
    """

    id: str
    status: ProviderStatus
    progress: int
    model: str
    seconds: int
    size: str
    prompt: str | None
    created_at: int
    completed_at: int | None
    expires_at: int | None
    error_code: str | None
    error_message: str | None
    remixed_from_video_id: str | None
    poll_after_ms: float | None = None
    created_at_known: bool = True
    cost_usd: float | None = None


@dataclass(frozen=True)
class VideoRequest:
    """The canonical create request, whatever the wire: `seconds` an int, `size` always WIDTHxHEIGHT.

    `first_frame` / `last_frame` are (file name, bytes, content type) of images already fitted to `size`.
    `audio` and `seed` are None when not asked for.
    """

    model: str
    prompt: str
    seconds: int
    size: str
    audio: bool | None = None
    seed: int | None = None
    first_frame: tuple[str, bytes, str] | None = None
    last_frame: tuple[str, bytes, str] | None = None


@dataclass(frozen=True)
class WireBody:
    """A create body: JSON (`json`), or multipart form fields (`form`) plus files (`files`)."""

    json: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    files: tuple[tuple[str, tuple[str, bytes, str]], ...] = ()

    @property
    def multipart(self) -> bool:
        return self.json is None


@dataclass(frozen=True)
class ContentRequest:
    """How to ask for one asset: the SDK's `variant` (None: not sent) and extra query parameters."""

    variant: VideoVariant | None
    query: Mapping[str, object] = field(default_factory=lambda: {})


class Dialect:
    """One wire format. Subclasses set the flags and implement `create_body` and `parse_job`."""

    name: ClassVar[str] = "openai"
    can_list: ClassVar[bool] = True
    """The provider lists recent jobs (what reconciles a lost create answer)."""
    can_delete: ClassVar[bool] = True
    can_remix: ClassVar[bool] = True
    can_extend: ClassVar[bool] = True
    has_variants: ClassVar[bool] = True
    """Thumbnail and spritesheet can be downloaded; else they are derived from the MP4."""
    has_progress: ClassVar[bool] = True
    """Jobs report a progress percentage, so polls can aim at the estimated end (`ProgressClock`)."""
    create_status: ClassVar[tuple[int, ...]] = (200, 201)
    """The HTTP statuses a successful create answers with."""

    def create_body(self, request: VideoRequest, model: ModelSpec | None) -> WireBody:
        raise NotImplementedError

    def parse_job(
        self, data: object, *, secrets: Iterable[str] = (), poll_after: float | None = None, now: float | None = None
    ) -> JobSnapshot:
        raise NotImplementedError

    def content(self, variant: VideoVariant) -> ContentRequest:
        return ContentRequest(variant=variant)

    def unsupported(self, what: str) -> str:
        """The message for an operation this dialect has no endpoint for."""
        return f"{what} is not supported by this provider (the {self.name} API has no such endpoint)."


# -- reading answers ----------------------------------------------------------------------------------------


def kind(value: object) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def show(value: str, limit: int = 40) -> str:
    """A short, printable, redacted rendering of provider text for a message (NULs and unicode escaped)."""
    shown = ascii(value[:limit])
    return redact(shown + ("…" if len(value) > limit else ""))


def clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def text(value: object, secrets: Iterable[str], limit: int = MAX_TEXT) -> str | None:
    return redact(clip(value, limit), secrets) if isinstance(value, str) else None


def int_or_none(value: object) -> int | None:
    """A finite, non-negative number (or numeric string) as an int; anything else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float | str):
        try:
            number = float(value)
        except ValueError:
            return None
        if math.isfinite(number) and number >= 0:
            return int(number)
    return None


def money_or_none(value: object) -> float | None:
    """A finite, non-negative, plausible (< $10,000) amount of USD; anything else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and 0 <= number < 10_000 else None


def progress(value: object) -> int:
    """0..100; a missing, non-numeric or non-finite progress is 0."""
    if isinstance(value, bool) or value is None:
        return 0
    try:
        number = float(cast(Any, value))
    except (TypeError, ValueError):
        return 0
    if not math.isfinite(number):
        return 0
    return int(min(100.0, max(0.0, number)))


def id_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"expected a string, got {kind(value)}"
    if not value:
        return "it is empty"
    if len(value) > MAX_ID_CHARS:
        return f"it is {len(value)} characters long (at most {MAX_ID_CHARS})"
    if ".." in value:
        return f"{show(value)} contains '..'"
    if not VIDEO_ID_PATTERN.fullmatch(value):
        return f"{show(value)} has characters other than letters, digits, '_', '.', ':', '=', '+', '/' and '-'"
    return None


def file_stem(video_id: str) -> str:
    """A file name stem for a job id: the id itself when it is plainly safe, else `video-<sha256 prefix>`."""
    if FILE_SAFE_ID.fullmatch(video_id) and ".." not in video_id:
        return video_id
    return "video-" + hashlib.sha256(video_id.encode("utf-8")).hexdigest()[:32]


def litellm_id(video_id: str) -> bool:
    """Whether an id is one the LiteLLM proxy minted (`video_` + base64 of `litellm:custom_llm_provider:...`)."""
    if not video_id.startswith("video_"):
        return False
    encoded = video_id[len("video_") :]
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return decoded.startswith(b"litellm:")


def check_id(value: object, secrets: Iterable[str], what: str = "the job id") -> str:
    """`value` if it is a safe id (and does not contain the key), else `Unusable(code="unsafe_id")`."""
    if not isinstance(value, str):
        raise Unusable(f"'id' is {kind(value)}, not a string")
    problem = id_problem(value)
    if problem is not None:
        raise Unusable(f"{what} is not safe to use: {problem}", "unsafe_id")
    if any(s and len(s) >= 6 and s in value for s in secrets):
        raise Unusable(f"{what} is not safe to use: it contains the API key", "unsafe_id")
    return value


def status_of(raw_status: object) -> tuple[str, ProviderStatus]:
    if not isinstance(raw_status, str):
        raise Unusable(f"'status' is {kind(raw_status)}, not a string")
    lowered = raw_status.strip().lower()
    status = STATUS_ALIASES.get(lowered)
    if status is None:
        raise Unusable(f"unknown status {show(raw_status)}")
    return lowered, status


def job_error(error: object, secrets: Iterable[str]) -> tuple[str | None, str | None]:
    """(code, message) of a job's `error`: an object `{code, message}` or a plain string (OpenRouter)."""
    if isinstance(error, dict):
        return text(error.get("code"), secrets, 100), text(error.get("message"), secrets)
    if isinstance(error, str):
        return None, text(error, secrets)
    return None, None


def created_time(data: Mapping[str, object], now: float | None) -> tuple[int, bool]:
    created_at = int_or_none(data.get("created_at"))
    if created_at is not None:
        return created_at, True
    return int(now if now is not None else time.time()), False


def data_url(image: tuple[str, bytes, str]) -> str:
    """An image as a `data:` URL (how OpenRouter takes frame images)."""
    return f"data:{image[2]};base64," + base64.b64encode(image[1]).decode("ascii")
