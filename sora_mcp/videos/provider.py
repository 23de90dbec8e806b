"""The only module that talks to the provider (`openai.AsyncOpenAI().videos`), sandbox or real.

Why one module: the rules that protect the user's money live here. Idempotent calls (retrieve, list,
download, delete) are retried with exponential backoff and jitter, honouring `Retry-After`. Creating
calls (create, remix, extend, edit) are never retried blindly: the SDK's own retries are off, and an
ambiguous failure (timeout, dropped connection, 5xx) is reported as such so the caller reconciles by
listing recent jobs before creating again. Provider errors become `ApiError`s, the same shape
`validate_params` uses.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import anyio

from sora_mcp.api_errors import ApiError, parse_error_body
from sora_mcp.jobs.polling import poll_after_ms

if TYPE_CHECKING:
    from openai import AsyncOpenAI
    from openai.types import Video

logger = logging.getLogger(__name__)

VideoVariant = Literal["video", "thumbnail", "spritesheet"]
JobStatus = Literal["queued", "in_progress", "completed", "failed"]
_T = TypeVar("_T")


class ProviderError(Exception):
    """A provider call that failed; `ambiguous` means a creating call may or may not have taken effect."""

    def __init__(
        self,
        error: ApiError,
        *,
        status: int | None,
        ambiguous: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.status = status
        self.ambiguous = ambiguous
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        """Worth retrying for an idempotent call: no answer, rate limited, or a server-side error."""
        return self.status is None or self.status == 429 or self.status >= 500


@dataclass(frozen=True)
class JobSnapshot:
    """What the provider says about one job, normalised (seconds as an int, missing fields as None)."""

    id: str
    status: JobStatus
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

    @classmethod
    def from_video(cls, video: Video, poll_after_ms: float | None = None) -> JobSnapshot:
        error = video.error
        try:
            seconds = int(str(video.seconds))
        except ValueError:
            seconds = 0
        return cls(
            id=video.id,
            status=video.status,
            progress=int(video.progress or 0),
            model=str(video.model),
            seconds=seconds,
            size=str(video.size),
            prompt=video.prompt,
            created_at=int(video.created_at),
            completed_at=video.completed_at,
            expires_at=video.expires_at,
            error_code=error.code if error is not None else None,
            error_message=error.message if error is not None else None,
            remixed_from_video_id=video.remixed_from_video_id,
            poll_after_ms=poll_after_ms,
        )


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter for idempotent calls; `Retry-After` wins when it is longer."""

    attempts: int = 4
    base_seconds: float = 0.5
    cap_seconds: float = 8.0
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep

    def delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = min(self.cap_seconds, self.base_seconds * (2**attempt))
        jittered = backoff / 2 + self.rng.uniform(0, backoff / 2)
        return float(max(jittered, retry_after or 0.0))


@dataclass(frozen=True)
class Download:
    """A streaming download: the declared type and length, and the body in chunks."""

    content_type: str
    content_length: int | None
    chunks: AsyncIterator[bytes]


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def convert_error(exc: Exception, *, creating: bool) -> ProviderError:
    """Map an `openai` exception to a `ProviderError` without ever including request headers (the key)."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        body: object
        try:
            body = exc.response.json()
        except ValueError:
            body = None
        error = parse_error_body(body) or ApiError(
            message=f"The provider answered HTTP {exc.status_code}.", type="server_error", code=None
        )
        status = exc.status_code
        return ProviderError(
            error,
            status=status,
            ambiguous=creating and status >= 500,
            retry_after=_retry_after(exc.response.headers),
        )
    if isinstance(exc, openai.APITimeoutError):
        message = "The provider did not answer in time."
    elif isinstance(exc, openai.APIConnectionError):
        message = "The connection to the provider failed or was dropped before an answer arrived."
    else:
        raise exc
    return ProviderError(
        ApiError(message=message, type="server_error", code="connection_error"), status=None, ambiguous=creating
    )


class VideoProvider:
    """Calls the Videos API with the protections above. Build with `VideoProvider.connect`."""

    def __init__(self, client: AsyncOpenAI, *, retry: RetryPolicy | None = None) -> None:
        self._client = client
        self._retry = retry or RetryPolicy()

    @classmethod
    def connect(
        cls, *, base_url: str, api_key: str, timeout_seconds: float = 60.0, retry: RetryPolicy | None = None
    ) -> VideoProvider:
        """A client with the SDK's automatic retries off: every retry decision is made here."""
        import httpx2
        from openai import AsyncOpenAI

        client = AsyncOpenAI(
            base_url=base_url,
            api_key=api_key,
            max_retries=0,
            timeout=httpx2.Timeout(timeout_seconds, connect=10.0),
        )
        return cls(client, retry=retry)

    async def close(self) -> None:
        await self._client.close()

    async def _idempotent(self, call: Callable[[], Awaitable[_T]]) -> _T:
        import openai

        attempt = 0
        while True:
            try:
                return await call()
            except (openai.APIStatusError, openai.APIConnectionError) as exc:
                error = convert_error(exc, creating=False)
                if not error.transient or attempt + 1 >= self._retry.attempts:
                    raise error from None
                delay = self._retry.delay(attempt, error.retry_after)
                logger.info("retrying after %s (HTTP %s) in %.2f s", error.error.message, error.status, delay)
                await self._retry.sleep(delay)
                attempt += 1

    async def _once(self, call: Callable[[], Awaitable[_T]]) -> _T:
        """A creating call: one attempt; failures are converted, marking the ambiguous ones."""
        import openai

        try:
            return await call()
        except (openai.APIStatusError, openai.APIConnectionError) as exc:
            raise convert_error(exc, creating=True) from None

    async def create(
        self,
        *,
        model: str,
        prompt: str,
        seconds: str | int,
        size: str,
        reference: tuple[str, bytes, str] | None = None,
    ) -> JobSnapshot:
        """POST /videos once. `reference` is (filename, bytes, content type) of an exactly-sized image."""
        from openai import omit

        videos = self._client.videos
        video = await self._once(
            lambda: videos.create(  # pyright: ignore[reportDeprecated]
                model=model,
                prompt=prompt,
                seconds=cast(Any, seconds),
                size=cast(Any, size),
                input_reference=reference if reference is not None else omit,
            )
        )
        return JobSnapshot.from_video(video)

    async def remix(self, video_id: str, prompt: str) -> JobSnapshot:
        videos = self._client.videos
        video = await self._once(lambda: videos.remix(video_id, prompt=prompt))  # pyright: ignore[reportDeprecated]
        return JobSnapshot.from_video(video)

    async def extend(self, video_id: str, prompt: str, seconds: str | int) -> JobSnapshot:
        """POST /videos/extensions as JSON: the SDK's multipart path rejects a `{"id": ...}` video reference."""
        from openai.types import Video

        body = {"video": {"id": video_id}, "prompt": prompt, "seconds": seconds}
        video = await self._once(lambda: self._client.post("/videos/extensions", body=body, cast_to=Video))
        return JobSnapshot.from_video(video)

    async def retrieve(self, video_id: str) -> JobSnapshot:
        async def call() -> JobSnapshot:
            raw = await self._client.videos.with_raw_response.retrieve(video_id)  # pyright: ignore[reportDeprecated]
            return JobSnapshot.from_video(raw.parse(), poll_after_ms(raw.headers))

        return await self._idempotent(call)

    async def recent(self, limit: int = 20) -> list[JobSnapshot]:
        """The newest jobs first: what reconciliation searches after an ambiguous create."""

        async def call() -> list[JobSnapshot]:
            page = await self._client.videos.list(limit=limit, order="desc")  # pyright: ignore[reportDeprecated]
            return [JobSnapshot.from_video(v) for v in page.data]

        return await self._idempotent(call)

    async def delete(self, video_id: str) -> None:
        await self._idempotent(lambda: self._client.videos.delete(video_id))  # pyright: ignore[reportDeprecated]

    @asynccontextmanager
    async def download(self, video_id: str, variant: VideoVariant) -> AsyncIterator[Download]:
        """Open one download stream (one attempt; the caller's download loop retries)."""
        import openai

        streaming = self._client.videos.with_streaming_response
        try:
            async with streaming.download_content(video_id, variant=variant) as response:  # pyright: ignore[reportDeprecated]
                length = response.headers.get("content-length")
                yield Download(
                    content_type=response.headers.get("content-type", "application/octet-stream"),
                    content_length=int(length) if length and length.isdigit() else None,
                    chunks=response.iter_bytes(),
                )
        except (openai.APIStatusError, openai.APIConnectionError) as exc:
            raise convert_error(exc, creating=False) from None
