"""How often to ask the provider about a job, and a gate so that many askers cost one request.

The SDK's own `poll()` asks every second; the provider's guide suggests 10-20 s. `PollPolicy` starts at about
2 s (short renders finish quickly in the sandbox and on gateways) and backs off to about 15 s, unless the
provider says when to come back (`openai-poll-after-ms`). `RetrieveGate` makes "never more than once per
second per job, however many agents ask" true inside one process: concurrent callers share one in-flight
request and callers within the interval get the last answer.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio

logger = logging.getLogger(__name__)

T = TypeVar("T")

POLL_AFTER_HEADER = "openai-poll-after-ms"

_shared_rng = random.Random()


def poll_after_ms(headers: Mapping[str, str]) -> float | None:
    """The provider's `openai-poll-after-ms` hint from response headers (any letter case), or None."""
    for name, value in headers.items():
        if name.lower() == POLL_AFTER_HEADER:
            return _parse_ms(value)
    return None


MAX_HINT_MS = 3_600_000.0
"""A hint above an hour is read as an hour: a provider's `1e300` must not travel through the program as is."""


def _parse_ms(value: float | str | None) -> float | None:
    """Milliseconds in [0, MAX_HINT_MS]; None for anything that is not a finite, non-negative number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        ms = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return min(ms, MAX_HINT_MS) if math.isfinite(ms) and ms >= 0 else None


@dataclass(frozen=True)
class PollPolicy:
    """Delay before the next retrieve of a job.

    Without a hint: `initial_s × factor^attempt`, capped at `max_s`, times a jitter in `1 ± jitter` so that
    many jobs started together do not poll in lockstep. With a hint: the hint, clamped to
    [`min_s`, `max_hint_s`] (a hint of 0 must not turn into a busy loop; an absurd one must not stall a wait).
    """

    initial_s: float = 2.0
    max_s: float = 15.0
    factor: float = 1.5
    jitter: float = 0.1
    min_s: float = 1.0
    max_hint_s: float = 60.0

    def __post_init__(self) -> None:
        if not (0 < self.min_s <= self.initial_s <= self.max_s <= self.max_hint_s):
            raise ValueError("PollPolicy needs 0 < min_s ≤ initial_s ≤ max_s ≤ max_hint_s")
        if self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("PollPolicy needs factor ≥ 1 and 0 ≤ jitter < 1")

    def base_delay(self, attempt: int) -> float:
        """The delay before jitter for the `attempt`-th retrieve of a job (0 for the first)."""
        return min(self.max_s, self.initial_s * self.factor ** min(max(0, attempt), 64))

    def delay(
        self,
        attempt: int,
        *,
        poll_after_ms: float | str | None = None,
        seconds_left: float | None = None,
        rng: random.Random | None = None,
    ) -> float:
        """Seconds to wait before the next retrieve. Pass a seeded `rng` for a reproducible sequence.

        With an estimate of the time left (`ProgressClock`), wake at the earliest plausible end and then every
        `min_s`; else follow the provider's hint; else back off.
        """
        if seconds_left is not None and math.isfinite(seconds_left):
            return min(self.max_hint_s, max(self.min_s, seconds_left))
        hint = _parse_ms(poll_after_ms)
        if hint is not None:
            return min(self.max_hint_s, max(self.min_s, hint / 1000.0))
        spread = (rng or _shared_rng).uniform(1.0 - self.jitter, 1.0 + self.jitter)
        return min(self.max_s, max(self.min_s, self.base_delay(attempt) * spread))


SHORT_SPAN_S = 10.0
"""Readings closer than this give a loose rate (one percent of quantisation is a lot): assume the fastest."""


@dataclass
class ProgressClock:
    """When a job should complete, from its progress readings: polls then land near the end of a long render
    instead of on a fixed backoff (a 60 s render costs a handful of retrieves, not sixty, and is seen done
    within about a second). Providers without progress (OpenRouter) give no estimate."""

    first: tuple[float, float] | None = None
    last: tuple[float, float] | None = None

    def observe(self, now: float, percent: float) -> None:
        """Record a reading; a reading that goes backwards starts the estimate again."""
        if self.last is not None and percent < self.last[1]:
            self.first = None
        if self.first is None:
            self.first = (now, percent)
        self.last = (now, percent)

    def seconds_left(self, now: float) -> float | None:
        """Seconds until the earliest plausible completion (0 when overdue), or None while the rate is unknown.

        Progress comes in whole percents, so two early readings only bound the rate: the estimate takes the
        fastest rate they allow (and the most progress), waking early rather than late; each later reading
        spans more time and narrows it, so the last polls land within a second of the end.
        """
        if self.first is None or self.last is None:
            return None
        (t0, p0), (t1, p1) = self.first, self.last
        if t1 - t0 < 0.5 or p1 <= p0 or p1 >= 100:
            return None
        span = t1 - t0
        slack = 1.0 if span < SHORT_SPAN_S else 0.5  # whole percents: a short span bounds the rate only loosely
        fastest = (p1 - p0 + slack) / span
        return max(0.0, t1 + max(0.0, 100.0 - slack - p1) / fastest - now)


_MISSING = object()


@dataclass
class _Flight(Generic[T]):
    """One retrieve in progress; followers wait on `done` and read its outcome."""

    done: anyio.Event = field(default_factory=anyio.Event)
    value: object = _MISSING
    error: Exception | None = None
    abandoned: bool = False


@dataclass
class _Slot(Generic[T]):
    flight: _Flight[T] | None = None
    value: object = _MISSING
    finished_at: float | None = None


class RetrieveGate(Generic[T]):
    """Single-flight and rate limit per key (a job id) over any async fetch.

    - While a fetch for a key is running, other callers wait for it and get its value (or its exception).
    - For `min_interval_s` after a fetch finishes, callers get that value without fetching.
    - If the last fetch failed (or was cancelled) less than `min_interval_s` ago, the next caller waits out the
      interval before fetching again, so fetches of one key always start ≥ `min_interval_s` after the previous
      one ended.

    `clock` and `sleep` are injectable so tests run on a fake monotonic clock. Use one gate per event loop.
    """

    def __init__(
        self,
        min_interval_s: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        max_keys: int = 4096,
    ) -> None:
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._sleep = sleep
        self._max_keys = max_keys
        self._slots: dict[str, _Slot[T]] = {}
        self.fetches = 0
        """How many fetches actually ran (for metrics and benchmarks)."""

    async def fetch(self, key: str, fetcher: Callable[[], Awaitable[T]]) -> T:
        """The value for `key`: shared from a running fetch, cached within the interval, or freshly fetched."""
        waited = False
        while True:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = _Slot()
                self._prune()
            if slot.flight is not None:
                flight = slot.flight
                await flight.done.wait()
                if flight.abandoned:
                    continue  # the leader was cancelled: someone else leads now
                if flight.error is not None:
                    raise flight.error
                return flight.value  # type: ignore[return-value]
            if slot.finished_at is not None:
                age = self._clock() - slot.finished_at
                if age < self.min_interval_s:
                    if slot.value is not _MISSING:
                        return slot.value  # type: ignore[return-value]
                    if not waited:  # the last fetch failed: wait out the interval once, then re-check
                        waited = True
                        await self._sleep(self.min_interval_s - age)
                        continue
            return await self._lead(slot, fetcher)

    async def _lead(self, slot: _Slot[T], fetcher: Callable[[], Awaitable[T]]) -> T:
        flight: _Flight[T] = _Flight()
        slot.flight = flight
        self.fetches += 1
        try:
            value = await fetcher()
        except Exception as exc:
            flight.error = exc
            slot.value = _MISSING
            raise
        except BaseException:
            flight.abandoned = True
            slot.value = _MISSING
            raise
        else:
            flight.value = slot.value = value
            return value
        finally:
            slot.finished_at = self._clock()
            slot.flight = None
            flight.done.set()

    def forget(self, key: str) -> None:
        """Drop the cached answer for `key` (e.g. after a delete); a running fetch is not affected."""
        slot = self._slots.get(key)
        if slot is not None and slot.flight is None:
            del self._slots[key]

    def _prune(self) -> None:
        if len(self._slots) <= self._max_keys:
            return
        idle = sorted(
            (s.finished_at or 0.0, k) for k, s in self._slots.items() if s.flight is None and s.finished_at is not None
        )
        for _, key in idle[: len(self._slots) - self._max_keys]:
            del self._slots[key]
        if len(self._slots) > self._max_keys:
            logger.warning("retrieve gate holds %d keys in flight", len(self._slots))
