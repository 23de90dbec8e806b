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
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio

from sora_mcp.api_errors import ApiError, parse_error_body
from sora_mcp.dialects import Dialect, VideoRequest, WireBody, dialect_for
from sora_mcp.dialects.base import MAX_TEXT, litellm_id
from sora_mcp.dialects.base import STATUS_ALIASES as STATUS_ALIASES
from sora_mcp.dialects.base import VIDEO_ID_PATTERN as VIDEO_ID_PATTERN
from sora_mcp.dialects.base import JobSnapshot as JobSnapshot
from sora_mcp.dialects.base import ProviderStatus as ProviderStatus
from sora_mcp.dialects.base import Unusable as _Unusable
from sora_mcp.dialects.base import VideoVariant as VideoVariant
from sora_mcp.dialects.base import clip as _clip
from sora_mcp.dialects.base import file_stem as file_stem
from sora_mcp.dialects.base import id_problem as _id_problem
from sora_mcp.dialects.base import kind as _kind
from sora_mcp.dialects.base import show as _show
from sora_mcp.dialects.base import text as _text
from sora_mcp.dialects.openai import parse_job as parse_job
from sora_mcp.errors import ErrorInfo, ErrorStage, SoraMcpError
from sora_mcp.jobs.polling import poll_after_ms
from sora_mcp.redaction import redact

if TYPE_CHECKING:
    from openai import AsyncOpenAI

    from sora_mcp.catalog import ModelSpec

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

RETRY_AFTER_MAX_SECONDS = 60.0
"""`ProviderError.retry_after` is never above this (a provider saying `inf` or `1e9` is not believed)."""
_MAX_TEXT = MAX_TEXT


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


def _unsafe(why: str) -> ProviderError:
    return ProviderError(
        ApiError(
            message=f"The provider gave a job id that is not safe to use: {why}.", type="server_error", code="unsafe_id"
        ),
        status=None,
    )


def safe_video_id(value: object) -> str:
    """`value` if it is a job id that is safe in a file name and a URL path, else `ProviderError("unsafe_id")`.

    Safe: a string matching `VIDEO_ID_PATTERN` (a letter or digit, then up to 511 of `A-Za-z0-9_.:=+/-`, so
    LiteLLM's base64 ids pass) with no `..`. Such an id only ever goes into a URL percent-encoded, and into a
    file name only through `file_stem` (its hash when it is not plainly safe). The error is not ambiguous and
    not transient: the job cannot be tracked, and the message says why.
    """
    problem = _id_problem(value)
    if problem is not None:
        raise _unsafe(problem)
    return cast(str, value)


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


def _decode(content: bytes) -> object:
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        pass
    if not content.strip():
        raise _Unusable("the body is empty")
    excerpt = content[:64].decode("utf-8", "replace")
    raise _Unusable(f"the body is not JSON (it starts with {_show(excerpt)})")


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
            parsed = _unwrap_nested(parsed)
        if parsed is None and isinstance(body, dict) and isinstance(body.get("detail"), str):
            parsed = ApiError(message=body["detail"], type="invalid_request_error")  # FastAPI (LiteLLM's 405)
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


def _unwrap_nested(outer: ApiError) -> ApiError:
    """The upstream's own error when a gateway nested it as JSON text inside its message (LiteLLM does:
    `litellm.BadRequestError: OpenAIException - {"error": {...}}`), else `outer` unchanged."""
    message = outer.message
    start = message.find("{")
    if start < 0:
        return outer
    try:
        inner, _end = json.JSONDecoder().raw_decode(message[start:])
    except (ValueError, RecursionError):
        return outer
    found = parse_error_body(inner)
    if found is None:
        return outer
    return ApiError(
        message=found.message,
        type=found.type,
        param=found.param if found.param is not None else outer.param,
        code=found.code if found.code is not None else outer.code,
    )


def unsupported(what: str, dialect: Dialect, status: int | None = None) -> ProviderError:
    """`what` cannot be done at this provider (no endpoint, or it answered 405): not transient, not ambiguous."""
    message = dialect.unsupported(what)
    if status is not None:
        message = f"{what} is not supported by this provider (it answered HTTP {status} Method Not Allowed)."
    return ProviderError(ApiError(message=message, type="invalid_request_error", code="unsupported"), status=status)


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

    def __init__(
        self,
        client: AsyncOpenAI,
        *,
        retry: RetryPolicy | None = None,
        secrets: Iterable[str] = (),
        dialect: Dialect | str | None = None,
    ) -> None:
        self._client = client
        self._retry = retry or RetryPolicy()
        self.dialect = dialect if isinstance(dialect, Dialect) else dialect_for(dialect)
        self.gateway: str | None = None
        """'litellm' once an answer shows the LiteLLM proxy (its `x-litellm-*` headers or its id encoding)."""
        key = getattr(client, "api_key", None)
        self._secrets = tuple(dict.fromkeys([*secrets, *([key] if isinstance(key, str) and key else [])]))

    @classmethod
    def connect(
        cls,
        *,
        base_url: str,
        api_key: str,
        timeout_seconds: float = 60.0,
        retry: RetryPolicy | None = None,
        dialect: Dialect | str | None = None,
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
        return cls(client, retry=retry, secrets=[api_key], dialect=dialect)

    @property
    def has_progress(self) -> bool:
        """Whether jobs report progress (OpenRouter's do not): what polling can aim by."""
        return self.dialect.has_progress

    @property
    def can_list(self) -> bool:
        """Whether recent jobs can be searched: not on OpenRouter or New-API, nor behind LiteLLM (its list never
        reaches the configured upstream)."""
        return self.dialect.can_list and self.gateway != "litellm"

    def _notice(self, answer: _Answer | None = None, video_id: str | None = None) -> None:
        if self.gateway is None and (
            (answer is not None and any(k.lower().startswith("x-litellm-") for k in answer.headers))
            or (video_id is not None and litellm_id(video_id))
        ):
            self.gateway = "litellm"
            logger.info("the provider is a LiteLLM proxy: no job list, no delete, thumbnails derived")

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
            self._notice(answer)
            snapshot = self.dialect.parse_job(data, secrets=self._secrets, poll_after=hint)
            self._notice(video_id=snapshot.id)
            return snapshot
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
        audio: bool | None = None,
        seed: int | None = None,
        last_frame: tuple[str, bytes, str] | None = None,
        spec: ModelSpec | None = None,
    ) -> JobSnapshot:
        """POST /videos once, in the dialect's wire format. `reference` / `last_frame` are (filename, bytes,
        content type) of exactly-sized images; `spec` is the catalog's model (how the dialect spells the request)."""
        request = VideoRequest(
            model=model,
            prompt=prompt,
            seconds=int(seconds),
            size=size,
            audio=audio,
            seed=seed,
            first_frame=reference,
            last_frame=last_frame,
        )
        return await self.send_create(request, spec, timeout=timeout)

    async def send_create(
        self, request: VideoRequest, spec: ModelSpec | None, *, timeout: float | None = None
    ) -> JobSnapshot:
        """The canonical request, sent once as the dialect's create body."""
        import httpx2

        wire: WireBody = self.dialect.create_body(request, spec)

        async def call(limit: float | None) -> JobSnapshot:
            options: dict[str, Any] = {} if limit is None else {"timeout": limit}
            if wire.multipart:
                options["headers"] = {"Content-Type": "multipart/form-data"}
                raw = await self._client.post(
                    "/videos",
                    body=wire.form or {},
                    files=[(name, file) for name, file in wire.files],
                    cast_to=httpx2.Response,
                    options=cast(Any, options),
                )
            else:
                raw = await self._client.post(
                    "/videos", body=wire.json, cast_to=httpx2.Response, options=cast(Any, options)
                )
            return self._job(await self._read(raw), "create", creating=True)

        return await self._once(call, "create", timeout)

    async def remix(self, video_id: str, prompt: str, *, timeout: float | None = None) -> JobSnapshot:
        from openai import not_given

        if not self.dialect.can_remix:
            raise unsupported("Remixing a video", self.dialect)
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

        if not self.dialect.can_extend:
            raise unsupported("Extending a video", self.dialect)
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

        if not self.can_list:
            raise unsupported("Listing recent jobs", self.dialect)

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
                    jobs.append(self.dialect.parse_job(item, secrets=self._secrets))
                except _Unusable as problem:
                    why = redact(problem.why, self._secrets)
                    logger.warning("skipping entry %d of the provider's job list: %s", index, why)
            return jobs

        return await self._idempotent(call, "list", timeout)

    async def delete(self, video_id: str, *, timeout: float | None = None) -> None:
        from openai import not_given

        if not self.dialect.can_delete:
            raise unsupported("Deleting a video", self.dialect)
        wanted = self._check_id(video_id)
        videos = self._client.videos.with_raw_response

        async def call(limit: float | None) -> None:
            await videos.delete(wanted, timeout=limit if limit is not None else not_given)  # pyright: ignore[reportDeprecated]

        try:
            await self._idempotent(call, "delete", timeout)
        except ProviderError as error:
            if error.status == 405:
                raise unsupported("Deleting a video", self.dialect, 405) from None
            raise

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: VideoVariant, *, timeout: float | None = None
    ) -> AsyncIterator[Download]:
        """Open one download stream (one attempt; the caller's download loop retries).

        `timeout` bounds opening the stream and each read of the body (not the whole transfer).
        """
        import openai
        from openai import not_given, omit

        wanted = self._check_id(video_id)
        streaming = self._client.videos.with_streaming_response
        deadline = _Deadline(timeout)
        asked = self.dialect.content(variant)
        try:
            opened = streaming.download_content(  # pyright: ignore[reportDeprecated]
                wanted,
                variant=asked.variant if asked.variant is not None else omit,
                extra_query=dict(asked.query) or None,
                timeout=deadline.timeout if deadline.timeout is not None else not_given,
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
