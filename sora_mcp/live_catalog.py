"""Live catalogs: the OpenRouter profile's catalog read from the provider's own model listing.

OpenRouter publishes every video model's legal values (`GET {base_url}/videos/models`), so for a profile built
from a listing the server uses the provider's current listing instead of a hand-kept table:

- start-up never waits for the network: the cached copy (`SORA_MCP_HOME/catalogs/`) is used at once, or the
  dated snapshot shipped in the package when there is no usable cache;
- the listing is read in the background when the copy in use is older than `catalog_max_age_hours` (default
  24 h; 0 never reads it), then again whenever it reaches that age; a failed read is retried after
  `RETRY_SECONDS`;
- every unusable answer (unreachable, an HTTP error, a redirect, a slow answer, a body over `MAX_LISTING_BYTES`,
  not JSON, no usable model) is logged with the reason and the last good catalog stays in force; one bad model
  in an otherwise good listing is skipped and the others kept (`listing.catalog_from_listing`);
- a good listing is written to the cache with its fetch time, and the server swaps its tools when the
  published schemas change (`server.py` sends `notifications/tools/list_changed`).

The request carries the API key only to the configured base URL (redirects are not followed); the key never
reaches a log line or the cache file (an answer echoing it is stored with the key removed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import anyio

from sora_mcp import __version__
from sora_mcp.catalog import LISTING_PROFILES, Catalog, CatalogError, load_builtin
from sora_mcp.redaction import REDACTED, redact
from sora_mcp.settings import Settings

log = logging.getLogger(__name__)

MAX_LISTING_BYTES = 4 * 1024 * 1024
"""A listing body larger than this is refused unread (OpenRouter's whole listing is well under 100 KiB)."""
MAX_LISTED_MODELS = 1000
"""A listing with more entries than this is refused: no provider lists that many video models."""
FETCH_TIMEOUT_SECONDS = 20.0
"""The whole read (connect, headers and body) must finish within this."""
RETRY_SECONDS = 600.0
"""After a failed read, the next attempt waits this long (or the max age, if shorter)."""
CACHE_FORMAT = 1
Origin = Literal["live", "cache", "snapshot"]
Apply = Callable[[Catalog], Awaitable[None]]


class ListingUnusable(Exception):
    """The provider's listing could not be used; the message says why (never contains the key)."""


def live_enabled(settings: Settings) -> bool:
    """Whether the catalog is read from the provider: a listing-built profile (openrouter) on the provider
    backend, no catalog file of the user's own, and a max age above 0. Everything else is exactly as before."""
    return (
        settings.backend == "provider"
        and settings.catalog is None
        and settings.profile in LISTING_PROFILES
        and bool(settings.base_url)
        and settings.catalog_max_age_hours > 0
    )


def public_url(url: str) -> str:
    """`url` without userinfo, query or fragment: what may be logged and stored."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def listing_url(base_url: str) -> str:
    """Where the listing lives: `{base_url}/videos/models` (base URL query and fragment dropped)."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/videos/models", "", ""))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def cache_path(settings: Settings) -> Path:
    """The cache file of this profile at this base URL (a listing from another host is never used here)."""
    assert settings.base_url is not None
    digest = hashlib.sha256(public_url(settings.base_url).encode()).hexdigest()[:12]
    return settings.home / "catalogs" / f"{settings.profile}-listing-{digest}.json"


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class LiveStatus:
    """Where the catalog in force comes from, for `list_models` and the logs."""

    origin: Origin
    fetched_at: dt.datetime | None
    url: str
    last_error: str | None = None
    last_attempt: dt.datetime | None = None

    def describe(self) -> str:
        what = {
            "live": "read from the provider",
            "cache": "cached copy",
            "snapshot": "the snapshot shipped with sora-mcp",
        }[self.origin]
        text = what
        if self.origin == "snapshot" and self.last_attempt is None:
            text += "; the provider's listing is being read"
        if self.last_error and self.last_attempt is not None:
            text += f"; the last read ({_iso(self.last_attempt)}) failed: {self.last_error}"
        return text


class LiveCatalog:
    """The listing-backed catalog of one server: start-up choice, background refresh, cache."""

    def __init__(self, settings: Settings, today: dt.date) -> None:
        assert settings.base_url is not None
        self.settings = settings
        self.today = today
        self.url = listing_url(settings.base_url)
        self.cache_file = cache_path(settings)
        self.max_age_seconds = settings.catalog_max_age_hours * 3600.0
        self.timeout_seconds = FETCH_TIMEOUT_SECONDS
        self.max_bytes = MAX_LISTING_BYTES
        self.retry_seconds = RETRY_SECONDS
        self.status = LiveStatus(origin="snapshot", fetched_at=None, url=public_url(self.url))
        self.catalog: Catalog | None = None
        """The catalog in force, as served (statuses applied, source saying where it comes from)."""
        self._built: Catalog | None = None
        self._retry_at: float | None = None
        self._lock: anyio.Lock | None = None

    # -- start-up: no network ------------------------------------------------------------------------------

    def initial(self) -> Catalog:
        """The catalog to serve at once: the cached copy, else the shipped snapshot (never waits for anything)."""
        cached = self._read_cache()
        if cached is not None:
            catalog, fetched_at = cached
            self.status = LiveStatus(origin="cache", fetched_at=fetched_at, url=self.status.url)
        else:
            catalog = load_builtin(self.settings.profile)
            self.status = LiveStatus(origin="snapshot", fetched_at=None, url=self.status.url)
            log.info(
                "model listing: no cached copy yet; serving the shipped snapshot until %s is read", self.status.url
            )
        self._built = catalog
        self.catalog = self._finish(catalog)
        return self.catalog

    def _read_cache(self) -> tuple[Catalog, dt.datetime] | None:
        try:
            text = self.cache_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("model listing cache %s cannot be read (%s); using the shipped snapshot", self.cache_file, exc)
            return None
        try:
            document = json.loads(text)
            if not isinstance(document, dict) or document.get("format") != CACHE_FORMAT:
                raise ValueError("not a sora-mcp listing cache")
            if document.get("url") != self.status.url:
                raise ValueError(f"written for {str(document.get('url'))[:200]}, not {self.status.url}")
            fetched_at = dt.datetime.fromisoformat(str(document["fetched_at"]).replace("Z", "+00:00"))
            if fetched_at.tzinfo is None:
                raise ValueError("fetched_at has no time zone")
            catalog = self._build(document, fetched_at)
        except (ValueError, KeyError, CatalogError) as exc:
            log.warning(
                "model listing cache %s is unusable (%s); using the shipped snapshot", self.cache_file, self._scrub(exc)
            )
            return None
        return catalog, fetched_at

    def _build(self, data: object, fetched_at: dt.datetime) -> Catalog:
        from sora_mcp.listing import catalog_from_listing

        entries = data.get("data") if isinstance(data, dict) else None
        if isinstance(entries, list) and len(entries) > MAX_LISTED_MODELS:
            raise CatalogError(f"the listing has {len(entries)} entries, more than {MAX_LISTED_MODELS}")
        return catalog_from_listing(
            data,
            fetched_at=fetched_at,
            source=f"OpenRouter model listing {self.status.url}",
            profile=self.settings.profile,
        )

    def _finish(self, catalog: Catalog) -> Catalog:
        """Statuses for this endpoint and day, and the source saying where the catalog in force comes from."""
        catalog = catalog.with_deployment(self.settings.azure_deployment).for_endpoint(
            self.settings.base_url, self.today
        )
        base = catalog.source or f"model listing {self.status.url}"
        return catalog.model_copy(update={"source": f"{base} ({self.status.describe()})"})

    # -- refresh -------------------------------------------------------------------------------------------

    def due_in(self, now: float | None = None) -> float:
        """Seconds until the next read: 0 when the catalog in force is older than the max age (or never read)."""
        now = time.time() if now is None else now
        if self._retry_at is not None:
            return max(0.0, self._retry_at - time.monotonic())
        fetched = self.status.fetched_at
        if fetched is None:
            return 0.0
        return max(0.0, fetched.timestamp() + self.max_age_seconds - now)

    async def run(self, apply: Apply) -> None:
        """Refresh whenever due, forever (cancelled with the server); never raises."""
        while True:
            delay = self.due_in()
            if delay > 0:
                await anyio.sleep(delay)
                continue  # due again? (another connection's loop may have read it meanwhile)
            try:
                catalog = await self.refresh()
                await apply(catalog)
            except Exception:  # the background refresh must never take the server down
                log.exception("model listing refresh failed unexpectedly; keeping the catalog in force")
                self._retry_at = time.monotonic() + min(self.retry_seconds, self.max_age_seconds)

    async def refresh(self) -> Catalog:
        """Read the listing now; the new catalog, or the one in force (relabelled) if the answer is unusable."""
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            current = self._built
            assert current is not None
            now = dt.datetime.now(dt.UTC)
            self.status.last_attempt = now
            try:
                data = await self.fetch()
                built = await anyio.to_thread.run_sync(self._build, data, now)
            except (ListingUnusable, CatalogError) as exc:
                reason = self._scrub(exc)
                self.status.last_error = reason
                self._retry_at = time.monotonic() + min(self.retry_seconds, self.max_age_seconds)
                log.warning(
                    "model listing %s unusable: %s; keeping the %s catalog (%d models), next try in %.0f s",
                    self.status.url,
                    reason,
                    self.status.origin,
                    len(current.models),
                    min(self.retry_seconds, self.max_age_seconds),
                )
                self.catalog = self._finish(current)
                return self.catalog
            self._retry_at = None
            self._write_cache(data, now)
            previous = {m.id for m in current.models}
            fresh = {m.id for m in built.models}
            gone, added = sorted(previous - fresh), sorted(fresh - previous)
            self.status = LiveStatus(origin="live", fetched_at=now, url=self.status.url)
            log.info(
                "model listing %s read: %d models creatable, %d listed only, %d entries skipped%s%s",
                self.status.url,
                len(built.models),
                len(built.listed_only),
                len(built.warnings),
                f"; no longer listed: {', '.join(gone)}" if gone else "",
                f"; new: {', '.join(added)}" if added else "",
            )
            self._built = built
            self.catalog = self._finish(built)
            return self.catalog

    async def fetch(self) -> object:
        """The listing as JSON; `ListingUnusable` with the reason for anything else."""
        import httpx2

        key = self.settings.api_key
        headers = {"Accept": "application/json", "User-Agent": f"sora-mcp/{__version__}"}
        assert self.settings.base_url is not None
        if key and _origin(self.url) == _origin(self.settings.base_url):  # the key goes to the base URL only
            headers["Authorization"] = f"Bearer {key}"
        timeout = httpx2.Timeout(self.timeout_seconds, connect=min(10.0, self.timeout_seconds))
        body = bytearray()
        try:
            with anyio.fail_after(self.timeout_seconds):
                async with (
                    httpx2.AsyncClient(timeout=timeout, follow_redirects=False) as client,
                    client.stream("GET", self.url, headers=headers) as response,
                ):
                    status = response.status_code
                    if 300 <= status < 400:
                        target = public_url(response.headers.get("location", "") or "(no location)")
                        raise ListingUnusable(
                            f"HTTP {status} redirect to {target[:200]} not followed (the key goes only to the "
                            "configured base URL)"
                        )
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > self.max_bytes:
                        raise ListingUnusable(f"the answer announces {int(declared)} bytes, over {self.max_bytes}")
                    async for chunk in response.aiter_bytes():
                        body.extend(chunk)
                        if len(body) > self.max_bytes:
                            raise ListingUnusable(f"the answer is over {self.max_bytes} bytes; not read further")
        except TimeoutError:
            raise ListingUnusable(f"no complete answer within {self.timeout_seconds:g} s") from None
        except httpx2.HTTPError as exc:
            raise ListingUnusable(f"unreachable ({type(exc).__name__}: {str(exc)[:200]})") from None
        text = body.decode("utf-8", errors="replace")
        if key and key in text:
            text = text.replace(key, REDACTED)  # an answer echoing the key is never stored or logged with it
        if status != 200:
            raise ListingUnusable(f"HTTP {status}: {_error_message(text)}")
        try:
            data: object = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ListingUnusable(
                f"not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); starts {text[:60]!r}"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise ListingUnusable("not a model listing (an object with a 'data' list)")
        return data

    def _write_cache(self, data: object, fetched_at: dt.datetime) -> None:
        assert isinstance(data, dict)
        document: dict[str, Any] = {
            "format": CACHE_FORMAT,
            "url": self.status.url,
            "fetched_at": _iso(fetched_at),
            "source": f"OpenRouter model listing {self.status.url}",
            "data": data["data"],
        }
        target = self.cache_file
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
            os.replace(temporary, target)
        except OSError as exc:
            log.warning("model listing cache %s cannot be written (%s); serving it from memory only", target, exc)
            temporary.unlink(missing_ok=True)

    def _scrub(self, exc: BaseException) -> str:
        return redact(str(exc), [self.settings.api_key] if self.settings.api_key else [])[:500]


def _error_message(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return repr(text[:120]) if text else "(empty body)"
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else error if isinstance(error, str) else None
    return str(message)[:200] if message else repr(text[:120])
