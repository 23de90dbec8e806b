"""The only module that talks to the provider (`openai.AsyncOpenAI().videos`), sandbox or real.

Why one module: the rules that protect the user's money live here. Idempotent calls (retrieve, list,
download, delete) are retried with exponential backoff and jitter, honouring `Retry-After`. Creating
calls (create, remix, extend, edit) are never retried blindly: the SDK's own retries are off, and an
ambiguous failure (timeout, dropped connection, 5xx) is reported as such so the caller reconciles by
listing recent jobs before creating again. Provider errors become `ApiError`s, the same shape
`validate_params` uses.

A provider is not trusted (it may be broken, or a hostile gateway):

- Answers are read as raw JSON and checked here, not by the SDK's models: non-JSON, HTML, wrong types or an
  unknown status become `ProviderError(code="unusable_answer")` ("The provider's answer to <call> was not a
  usable video job: <why>"), ambiguous for creating calls (the job may exist: treat it like a lost answer).
- Job ids are data, never paths: every id read from an answer must pass `safe_video_id`, else
  `ProviderError(code="unsafe_id")`, not ambiguous.
- Text from the provider goes through `sora_mcp.redaction.redact` with the client's key before it is stored,
  logged or shown.
- Every call is bounded: `timeout=` (the caller's remaining seconds) is the per-request timeout and a hard
  deadline for the retry loop; `Retry-After` is parsed defensively and never makes a call outlast it.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import anyio

from sora_mcp.api_errors import ApiError, parse_error_body
from sora_mcp.errors import ErrorInfo, ErrorStage, SoraMcpError
from sora_mcp.jobs.polling import poll_after_ms
from sora_mcp.redaction import redact

if TYPE_CHECKING:
    from openai import AsyncOpenAI

logger = logging.getLogger(__name__)

VideoVariant = Literal["video", "thumbnail", "spritesheet"]
ProviderStatus = Literal["queued", "in_progress", "completed", "failed", "expired"]
"""The ledger's provider-side statuses; every provider status is mapped onto one of these or refused."""
_T = TypeVar("_T")

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

VIDEO_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}")
"""What a job id may look like: it ends up in file names and URL paths, so nothing else is accepted."""

RETRY_AFTER_MAX_SECONDS = 60.0
"""`ProviderError.retry_after` is never above this (a provider saying `inf` or `1e9` is not believed)."""
_MAX_TEXT = 2000
"""Provider text (error messages, prompts) is cut to this many characters."""


class ProviderError(SoraMcpError):
    """A provider call that failed; `ambiguous` means a creating call may or may not have taken effect.

    `code` is the provider's error code, or one of ours: `unusable_answer`, `unsafe_id`, `timeout`,
    `connection_error`. `body` is the provider's own error body (redacted), when it sent one.
    """

    stage: ErrorStage = "provider"

    def __init__(
        self,
        error: ApiError,
        *,
        status: int | None,
        ambiguous: bool = False,
        retry_after: float | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.status = status
        self.ambiguous = ambiguous
        self.retry_after = retry_after
        self.body = body
        self.code = error.code

    @property
    def transient(self) -> bool:
        """Worth retrying for an idempotent call: no answer, rate limited, or a server-side error.

        Never for an unusable answer or an unsafe id: asking again would get the same nonsense.
        """
        if self.error.code in ("unusable_answer", "unsafe_id"):
            return False
        return self.status is None or self.status == 429 or self.status >= 500

    def problem(self) -> ErrorInfo:
        """The provider's message (redacted again with every installed key), its code, param and body."""
        body = _redact_value(self.body) if self.body is not None else None
        return ErrorInfo(
            stage=self.stage,
            message=redact(self.error.message),
            code=self.error.code,
            param=self.error.param,
            provider_error=cast("dict[str, Any] | None", body),
        )


class _Unusable(Exception):
    """An answer that cannot be used; `code` is `unusable_answer` or `unsafe_id`."""

    def __init__(self, why: str, code: str = "unusable_answer") -> None:
        super().__init__(why)
        self.why = why
        self.code = code


def _unsafe(why: str) -> ProviderError:
    return ProviderError(
        ApiError(
            message=f"The provider gave a job id that is not safe to use: {why}.", type="server_error", code="unsafe_id"
        ),
        status=None,
    )


def _id_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"expected a string, got {_kind(value)}"
    if not value:
        return "it is empty"
    if len(value) > 200:
        return f"it is {len(value)} characters long (at most 200)"
    if ".." in value:
        return f"{_show(value)} contains '..'"
    if not VIDEO_ID_PATTERN.fullmatch(value):
        return f"{_show(value)} has characters other than letters, digits, '_', '.', ':' and '-'"
    return None


def safe_video_id(value: object) -> str:
    """`value` if it is a job id that is safe in a file name and a URL path, else `ProviderError("unsafe_id")`.

    Safe: a string matching `VIDEO_ID_PATTERN` (a letter or digit, then up to 199 of `A-Za-z0-9_.:-`) with no
    `..`. The error is not ambiguous and not transient: the job cannot be tracked, and the message says why.
    """
    problem = _id_problem(value)
    if problem is not None:
        raise _unsafe(problem)
    return cast(str, value)


def _kind(value: object) -> str:
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


def _show(value: str, limit: int = 40) -> str:
    """A short, printable, redacted rendering of provider text for a message (NULs and unicode escaped)."""
    shown = ascii(value[:limit])
    return redact(shown + ("…" if len(value) > limit else ""))


def _clip(text: str, limit: int = _MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _redact_value(value: object, secrets: Iterable[str] = ()) -> object:
    """A JSON value with every string redacted (and clipped), for provider error bodies."""
    secrets = tuple(secrets)
    if isinstance(value, str):
        return redact(_clip(value), secrets)
    if isinstance(value, dict):
        return {redact(str(k), secrets): _redact_value(v, secrets) for k, v in list(value.items())[:50]}
    if isinstance(value, list):
        return [_redact_value(v, secrets) for v in value[:50]]
    return value


# -- reading answers ---------------------------------------------------------------------------------------


def _int_or_none(value: object) -> int | None:
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


def _progress(value: object) -> int:
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


def _text(value: object, secrets: Iterable[str], limit: int = _MAX_TEXT) -> str | None:
    return redact(_clip(value, limit), secrets) if isinstance(value, str) else None


def parse_job(
    data: object,
    *,
    secrets: Iterable[str] = (),
    poll_after: float | None = None,
    now: float | None = None,
) -> JobSnapshot:
    """A `JobSnapshot` from a decoded JSON video object, tolerant of everything but a missing id or status.

    Raises `_Unusable` (code `unusable_answer` or `unsafe_id`). Progress is clamped to 0..100 (bad: 0);
    `seconds` bad: 0; `created_at` missing or bad: `now` (wall clock), with `created_at_known=False`.
    """
    if not isinstance(data, dict):
        raise _Unusable(f"expected a JSON object, got {_kind(data)}")
    video_id = data.get("id")
    if not isinstance(video_id, str):
        raise _Unusable(f"'id' is {_kind(video_id)}, not a string")
    problem = _id_problem(video_id)
    if problem is not None:
        raise _Unusable(f"the job id is not safe to use: {problem}", "unsafe_id")
    secrets = tuple(secrets)
    if any(s and len(s) >= 6 and s in video_id for s in secrets):
        raise _Unusable("the job id is not safe to use: it contains the API key", "unsafe_id")
    raw_status = data.get("status")
    if not isinstance(raw_status, str):
        raise _Unusable(f"'status' is {_kind(raw_status)}, not a string")
    status = STATUS_ALIASES.get(raw_status.strip().lower())
    if status is None:
        raise _Unusable(f"unknown status {_show(raw_status)}")
    parent = data.get("remixed_from_video_id")
    if parent is not None:
        problem = _id_problem(parent)
        if problem is not None:
            raise _Unusable(f"'remixed_from_video_id' is not safe to use: {problem}", "unsafe_id")

    error = data.get("error")
    error_code: str | None = None
    error_message: str | None = None
    if isinstance(error, dict):
        error_code = _text(error.get("code"), secrets, 100)
        error_message = _text(error.get("message"), secrets)
    elif isinstance(error, str):
        error_message = _text(error, secrets)
    if raw_status.strip().lower() in ("cancelled", "canceled"):
        error_code = error_code or "cancelled"
        error_message = error_message or "The provider cancelled the job."

    created_at = _int_or_none(data.get("created_at"))
    seconds = data.get("seconds")
    return JobSnapshot(
        id=video_id,
        status=status,
        progress=_progress(data.get("progress")),
        model=_text(data.get("model"), secrets, 200) or "",
        seconds=_int_or_none(seconds) or 0,
        size=_text(data.get("size"), secrets, 50) or "",
        prompt=_text(data.get("prompt"), secrets, 32000),
        created_at=created_at if created_at is not None else int(now if now is not None else time.time()),
        completed_at=_int_or_none(data.get("completed_at")),
        expires_at=_int_or_none(data.get("expires_at")),
        error_code=error_code,
        error_message=error_message,
        remixed_from_video_id=cast("str | None", parent),
        poll_after_ms=poll_after,
        created_at_known=created_at is not None,
    )


def _decode(content: bytes) -> object:
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        pass
    if not content.strip():
        raise _Unusable("the body is empty")
    excerpt = content[:64].decode("utf-8", "replace")
    raise _Unusable(f"the body is not JSON (it starts with {_show(excerpt)})")


@dataclass(frozen=True)
class JobSnapshot:
    """What the provider says about one job, normalised (seconds as an int, missing fields as None).

    `status` is already mapped to the ledger's set. `created_at` is always an int: when the provider gave none
    (or nonsense) it is the time the answer was read and `created_at_known` is False, so a reconciler comparing
    it to a window treats the job as just created (it must still match the request exactly).
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


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter for idempotent calls; `Retry-After` wins when it is longer.

    No delay is ever above `cap_seconds` (a provider asking for hours is not obeyed) nor past the call's
    deadline.
    """

    attempts: int = 4
    base_seconds: float = 0.5
    cap_seconds: float = 8.0
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep

    def delay(self, attempt: int, retry_after: float | None, remaining: float | None = None) -> float:
        backoff = min(self.cap_seconds, self.base_seconds * (2 ** min(attempt, 32)))
        jittered = backoff / 2 + self.rng.uniform(0, backoff / 2)
        wanted = retry_after if retry_after is not None and math.isfinite(retry_after) else 0.0
        delay = min(max(jittered, wanted), self.cap_seconds)
        if remaining is not None:
            delay = min(delay, max(0.0, remaining))
        return float(max(0.0, delay))


@dataclass(frozen=True)
class Download:
    """A streaming download: the declared type and length, and the body in chunks."""

    content_type: str
    content_length: int | None
    chunks: AsyncIterator[bytes]


def _seconds(value: str) -> float | None:
    """A Retry-After value as seconds: a number (inf/huge capped, negative 0) or an HTTP date; garbage None."""
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None:
            return None
        try:
            number = when.timestamp() - time.time()
        except (OverflowError, OSError, ValueError):
            return None
    if math.isnan(number):
        return None
    return min(RETRY_AFTER_MAX_SECONDS, max(0.0, number))


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """`retry-after-ms` or `Retry-After` as seconds in [0, RETRY_AFTER_MAX_SECONDS], or None when absent/garbage."""
    if headers is None:
        return None
    try:
        milliseconds = headers.get("retry-after-ms")
        seconds = headers.get("retry-after")
    except Exception:
        return None
    if isinstance(milliseconds, str):
        try:
            number = float(milliseconds.strip())
        except ValueError:
            number = math.nan
        if not math.isnan(number):
            return min(RETRY_AFTER_MAX_SECONDS, max(0.0, number / 1000.0))
    if isinstance(seconds, str):
        return _seconds(seconds)
    return None


_retry_after = parse_retry_after  # the old private name


def convert_error(exc: Exception, *, creating: bool, secrets: Iterable[str] = ()) -> ProviderError:
    """Map an `openai` exception to a `ProviderError` without ever including request headers (the key)."""
    import openai

    secrets = tuple(secrets)
    if isinstance(exc, openai.APIStatusError):
        body: object
        try:
            body = json.loads(exc.response.content)
        except (ValueError, RecursionError):
            body = None
        except Exception:  # the body could not even be read
            body = None
        status = exc.status_code
        parsed = parse_error_body(body)
        if parsed is not None:
            error = ApiError(
                message=redact(_clip(parsed.message), secrets),
                type=parsed.type,
                param=_text(parsed.param, secrets, 200),
                code=_text(parsed.code, secrets, 100),
            )
        else:
            error = ApiError(message=f"The provider answered HTTP {status}.", type="server_error", code=None)
        return ProviderError(
            error,
            status=status,
            ambiguous=creating and status >= 500,
            retry_after=parse_retry_after(exc.response.headers),
            body=cast("dict[str, Any]", _redact_value(body, secrets)) if isinstance(body, dict) else None,
        )
    if isinstance(exc, openai.APITimeoutError):
        message = "The provider did not answer in time."
        code = "timeout"
    elif isinstance(exc, openai.APIConnectionError):
        message = "The connection to the provider failed or was dropped before an answer arrived."
        code = "connection_error"
    else:
        raise exc
    return ProviderError(ApiError(message=message, type="server_error", code=code), status=None, ambiguous=creating)


def _timed_out(timeout: float, *, creating: bool) -> ProviderError:
    message = f"The provider did not answer within {timeout:g} s."
    if creating:
        message += " The job may or may not have been created."
    return ProviderError(
        ApiError(message=message, type="server_error", code="timeout"), status=None, ambiguous=creating
    )


def _unusable_error(
    call: str, problem: _Unusable, *, creating: bool, status: int | None, secrets: Iterable[str] = ()
) -> ProviderError:
    message = redact(f"The provider's answer to {call} was not a usable video job: {problem.why}.", secrets)
    if problem.code == "unsafe_id":
        return ProviderError(ApiError(message=message, type="server_error", code="unsafe_id"), status=status)
    if creating:
        message += " The job may or may not have been created."
    return ProviderError(
        ApiError(message=message, type="server_error", code="unusable_answer"), status=status, ambiguous=creating
    )


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: Mapping[str, str]
    content: bytes


class _Deadline:
    def __init__(self, timeout: float | None) -> None:
        self.timeout = None if timeout is None else max(0.0, float(timeout))
        self.end = None if self.timeout is None else anyio.current_time() + self.timeout

    def remaining(self) -> float | None:
        return None if self.end is None else self.end - anyio.current_time()


class VideoProvider:
    """Calls the Videos API with the protections above. Build with `VideoProvider.connect`."""

    def __init__(self, client: AsyncOpenAI, *, retry: RetryPolicy | None = None, secrets: Iterable[str] = ()) -> None:
        self._client = client
        self._retry = retry or RetryPolicy()
        key = getattr(client, "api_key", None)
        self._secrets = tuple(dict.fromkeys([*secrets, *([key] if isinstance(key, str) and key else [])]))

    @classmethod
    def connect(
        cls, *, base_url: str, api_key: str, timeout_seconds: float = 60.0, retry: RetryPolicy | None = None
    ) -> VideoProvider:
        """A client with the SDK's automatic retries off: every retry decision is made here.

        Also installs log redaction for `api_key` (`sora_mcp.redaction.install`).
        """
        import httpx2
        from openai import AsyncOpenAI

        from sora_mcp import redaction

        redaction.install([api_key])
        client = AsyncOpenAI(
            base_url=base_url,
            api_key=api_key,
            max_retries=0,
            timeout=httpx2.Timeout(timeout_seconds, connect=10.0),
        )
        return cls(client, retry=retry, secrets=[api_key])

    async def close(self) -> None:
        await self._client.close()

    # -- the two call disciplines ------------------------------------------------------------------------------

    async def _attempt(
        self,
        call: Callable[[float | None], Awaitable[_T]],
        remaining: float | None,
        *,
        what: str,
        creating: bool,
        timeout: float | None,
    ) -> _T:
        """One request, bounded by `remaining` seconds in total; every failure becomes a `ProviderError`."""
        import openai

        try:
            if remaining is None:
                return await call(None)
            with anyio.fail_after(max(0.0, remaining)):
                return await call(max(0.001, remaining))
        except ProviderError:
            raise
        except TimeoutError:
            raise _timed_out(timeout or 0.0, creating=creating) from None
        except openai.APITimeoutError as exc:
            if timeout is not None:
                raise _timed_out(timeout, creating=creating) from None
            raise convert_error(exc, creating=creating, secrets=self._secrets) from None
        except (openai.APIStatusError, openai.APIConnectionError) as exc:
            raise convert_error(exc, creating=creating, secrets=self._secrets) from None
        except Exception as exc:  # the SDK or the transport choked on the answer: never let it escape bare
            why = f"reading it failed ({type(exc).__name__}: {_show(str(exc), 120)})"
            raise _unusable_error(what, _Unusable(why), creating=creating, status=None, secrets=self._secrets) from None

    async def _idempotent(
        self, call: Callable[[float | None], Awaitable[_T]], what: str, timeout: float | None = None
    ) -> _T:
        """Retry transient failures with backoff, never sleeping or retrying past `timeout` seconds from now."""
        deadline = _Deadline(timeout)
        attempt = 0
        while True:
            remaining = deadline.remaining()
            if remaining is not None and remaining <= 0:
                raise _timed_out(deadline.timeout or 0.0, creating=False)
            try:
                return await self._attempt(call, remaining, what=what, creating=False, timeout=deadline.timeout)
            except ProviderError as error:
                if not error.transient or attempt + 1 >= self._retry.attempts:
                    raise
                remaining = deadline.remaining()
                delay = self._retry.delay(attempt, error.retry_after, remaining)
                if remaining is not None and delay >= remaining - 0.05:
                    raise  # no time left for another attempt: report what the provider said
                logger.info("retrying after %s (HTTP %s) in %.2f s", error.error.message, error.status, delay)
                await self._retry.sleep(delay)
                attempt += 1

    async def _once(self, call: Callable[[float | None], Awaitable[_T]], what: str, timeout: float | None = None) -> _T:
        """A creating call: one attempt; failures are converted, marking the ambiguous ones."""
        deadline = _Deadline(timeout)
        return await self._attempt(call, deadline.remaining(), what=what, creating=True, timeout=deadline.timeout)

    # -- reading answers --------------------------------------------------------------------------------------

    async def _read(self, raw: Any) -> _Answer:
        """Status, headers and body bytes of an `httpx2.Response` or an SDK raw response wrapping one."""
        import httpx2

        response = raw if isinstance(raw, httpx2.Response) else raw.http_response
        content = await response.aread()
        return _Answer(int(response.status_code), response.headers, content)

    def _job(self, answer: _Answer, call: str, *, creating: bool, poll: bool = False) -> JobSnapshot:
        try:
            data = _decode(answer.content)
            hint = poll_after_ms(answer.headers) if poll else None
            return parse_job(data, secrets=self._secrets, poll_after=hint)
        except _Unusable as problem:
            raise _unusable_error(
                call, problem, creating=creating, status=answer.status, secrets=self._secrets
            ) from None

    def _check_id(self, video_id: str) -> str:
        """Ids we send must be safe too (they come from our ledger, which got them from a provider)."""
        return safe_video_id(video_id)

    # -- creating calls ---------------------------------------------------------------------------------------

    async def create(
        self,
        *,
        model: str,
        prompt: str,
        seconds: str | int,
        size: str,
        reference: tuple[str, bytes, str] | None = None,
        timeout: float | None = None,
    ) -> JobSnapshot:
        """POST /videos once. `reference` is (filename, bytes, content type) of an exactly-sized image."""
        from openai import not_given, omit

        videos = self._client.videos.with_raw_response

        async def call(limit: float | None) -> JobSnapshot:
            raw = await videos.create(  # pyright: ignore[reportDeprecated]
                model=model,
                prompt=prompt,
                seconds=cast(Any, seconds),
                size=cast(Any, size),
                input_reference=reference if reference is not None else omit,
                timeout=limit if limit is not None else not_given,
            )
            return self._job(await self._read(raw), "create", creating=True)

        return await self._once(call, "create", timeout)

    async def remix(self, video_id: str, prompt: str, *, timeout: float | None = None) -> JobSnapshot:
        from openai import not_given

        source = self._check_id(video_id)
        videos = self._client.videos.with_raw_response

        async def call(limit: float | None) -> JobSnapshot:
            raw = await videos.remix(source, prompt=prompt, timeout=limit if limit is not None else not_given)  # pyright: ignore[reportDeprecated]
            return self._job(await self._read(raw), "remix", creating=True)

        return await self._once(call, "remix", timeout)

    async def extend(
        self, video_id: str, prompt: str, seconds: str | int, *, timeout: float | None = None
    ) -> JobSnapshot:
        """POST /videos/extensions as JSON: the SDK's multipart path rejects a `{"id": ...}` video reference."""
        import httpx2

        body = {"video": {"id": self._check_id(video_id)}, "prompt": prompt, "seconds": seconds}

        async def call(limit: float | None) -> JobSnapshot:
            options: dict[str, Any] = {} if limit is None else {"timeout": limit}
            raw = await self._client.post(
                "/videos/extensions", body=body, cast_to=httpx2.Response, options=cast(Any, options)
            )
            return self._job(await self._read(raw), "extend", creating=True)

        return await self._once(call, "extend", timeout)

    # -- idempotent calls -------------------------------------------------------------------------------------

    async def retrieve(self, video_id: str, *, timeout: float | None = None) -> JobSnapshot:
        from openai import not_given

        wanted = self._check_id(video_id)
        videos = self._client.videos.with_raw_response

        async def call(limit: float | None) -> JobSnapshot:
            raw = await videos.retrieve(wanted, timeout=limit if limit is not None else not_given)  # pyright: ignore[reportDeprecated]
            snapshot = self._job(await self._read(raw), "retrieve", creating=False, poll=True)
            if snapshot.id != wanted:
                raise _unusable_error(
                    "retrieve",
                    _Unusable(f"it describes job {_show(snapshot.id)}, not {_show(wanted)}"),
                    creating=False,
                    status=int(raw.status_code),
                    secrets=self._secrets,
                )
            return snapshot

        return await self._idempotent(call, "retrieve", timeout)

    async def recent(self, limit: int = 20, *, timeout: float | None = None) -> list[JobSnapshot]:
        """The newest jobs first: what reconciliation searches after an ambiguous create.

        Entries that are not usable jobs (unsafe id, unknown status, wrong types) are left out and logged; a
        body that is not a list of jobs at all is a `ProviderError("unusable_answer")`.
        """
        import httpx2

        async def call(seconds: float | None) -> list[JobSnapshot]:
            options: dict[str, Any] = {"params": {"limit": limit, "order": "desc"}}
            if seconds is not None:
                options["timeout"] = seconds
            raw = await self._client.get("/videos", cast_to=httpx2.Response, options=cast(Any, options))
            answer = await self._read(raw)
            try:
                data = _decode(answer.content)
                items = data.get("data") if isinstance(data, dict) else None
                if not isinstance(items, list):
                    raise _Unusable(f"expected an object with a 'data' array, got {_kind(data)}")
            except _Unusable as problem:
                raise _unusable_error(
                    "list", problem, creating=False, status=answer.status, secrets=self._secrets
                ) from None
            jobs: list[JobSnapshot] = []
            for index, item in enumerate(items):
                try:
                    jobs.append(parse_job(item, secrets=self._secrets))
                except _Unusable as problem:
                    why = redact(problem.why, self._secrets)
                    logger.warning("skipping entry %d of the provider's job list: %s", index, why)
            return jobs

        return await self._idempotent(call, "list", timeout)

    async def delete(self, video_id: str, *, timeout: float | None = None) -> None:
        from openai import not_given

        wanted = self._check_id(video_id)
        videos = self._client.videos.with_raw_response

        async def call(limit: float | None) -> None:
            await videos.delete(wanted, timeout=limit if limit is not None else not_given)  # pyright: ignore[reportDeprecated]

        await self._idempotent(call, "delete", timeout)

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: VideoVariant, *, timeout: float | None = None
    ) -> AsyncIterator[Download]:
        """Open one download stream (one attempt; the caller's download loop retries).

        `timeout` bounds opening the stream and each read of the body (not the whole transfer).
        """
        import openai
        from openai import not_given

        wanted = self._check_id(video_id)
        streaming = self._client.videos.with_streaming_response
        deadline = _Deadline(timeout)
        try:
            opened = streaming.download_content(  # pyright: ignore[reportDeprecated]
                wanted, variant=variant, timeout=deadline.timeout if deadline.timeout is not None else not_given
            )
            if deadline.timeout is None:
                response = await opened.__aenter__()
            else:
                with anyio.fail_after(max(0.0, deadline.timeout)):
                    response = await opened.__aenter__()
        except TimeoutError:
            raise _timed_out(deadline.timeout or 0.0, creating=False) from None
        except openai.APITimeoutError:
            raise _timed_out(deadline.timeout or 0.0, creating=False) from None
        except (openai.APIStatusError, openai.APIConnectionError) as exc:
            raise convert_error(exc, creating=False, secrets=self._secrets) from None
        try:
            length = response.headers.get("content-length")
            yield Download(
                content_type=response.headers.get("content-type", "application/octet-stream"),
                content_length=int(length) if length and length.isdigit() and len(length) < 16 else None,
                chunks=response.iter_bytes(),
            )
        finally:
            await opened.__aexit__(None, None, None)
