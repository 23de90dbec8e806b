"""Build a catalog from a provider's model listing (OpenRouter's `GET /api/v1/videos/models`).

The listing is the provider's own statement of each model's legal values, so it is read tolerantly:
unknown fields are ignored, durations are a set (the listing may be unordered), one malformed model is
skipped with the reason recorded in `Catalog.warnings` (and logged) instead of losing the whole catalog,
and `null` means "no opinion": a model without durations is listed but not creatable, with the reason.

Prices come from `pricing_skus`, whose units are encoded in the key names and differ by provider:
`duration_seconds*` is dollars per second, `cents_per_*second*` cents per second, `*tokens*` dollars per
token (no per-second estimate is possible); a `_480p`/`_720p`/`_1080p`/`_4k` suffix prices one resolution,
`with_audio`/`without_audio` one audio mode. Capabilities are taken from the `supported_*` lists only, never
from SKU names (Kling has 1080p SKUs but lists only 720p).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from sora_mcp.catalog import (
    AudioMode,
    Catalog,
    CatalogError,
    Dialect,
    Frame,
    FrameImage,
    ListedModel,
    ModelSpec,
)
from sora_mcp.sizes import Size, SizeError

log = logging.getLogger(__name__)

SHORT_SIDES: dict[str, int] = {"480p": 480, "720p": 720, "768p": 768, "1080p": 1080, "1k": 1024, "2k": 1440, "4k": 2160}
"""Nominal short side of each resolution tier; sizes derived from tier + aspect ratio use it."""
_RATIO = re.compile(r"^(\d{1,2}):(\d{1,2})$")
_RESOLUTION_SUFFIX = re.compile(r"_(480p|720p|768p|1080p|1k|2k|4k)(?=_|$)")
_FRAME_IMAGES: tuple[FrameImage, ...] = ("first_frame", "last_frame")
MAX_LISTED_DURATION = 3600
"""A duration beyond an hour is not a video model's; the entry is refused as malformed."""


class ListingError(ValueError):
    """One listing entry that cannot be used; the builder skips it and records the reason."""


def is_listing(data: object) -> bool:
    """True for the listing format: `{"data": [...]}` whose entries carry `supported_durations`."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), list) or "models" in data:
        return False
    return any(isinstance(m, dict) and "supported_durations" in m for m in data["data"]) or not data["data"]


def nominal_size(resolution: str, aspect_ratio: str) -> Size:
    """The WIDTHxHEIGHT a tier and ratio stand for (720p 16:9 -> 1280x720, 480p 16:9 -> 854x480)."""
    short = SHORT_SIDES.get(resolution.lower())
    ratio = _RATIO.match(aspect_ratio)
    if short is None or ratio is None:
        raise ListingError(f"cannot size resolution {resolution!r} at aspect ratio {aspect_ratio!r}")
    a, b = int(ratio.group(1)), int(ratio.group(2))
    if a == 0 or b == 0:
        raise ListingError(f"aspect ratio {aspect_ratio!r} has a zero side")
    long = 2 * round(short * max(a, b) / min(a, b) / 2)
    return Size(long, short) if a >= b else Size(short, long)


def resolution_of(size: Size) -> str:
    """The tier name of a size, by its short side (the nearest tier)."""
    short = min(size.width, size.height)
    return min(SHORT_SIDES, key=lambda tier: (abs(SHORT_SIDES[tier] - short), SHORT_SIDES[tier]))


@dataclass(frozen=True)
class Sku:
    """One `pricing_skus` entry, understood from its key name."""

    key: str
    unit: str  # "usd_per_second", "usd_per_token" or "other"
    value: float
    resolution: str | None
    audio: bool | None
    mode: str | None  # "text_to_video", "image_to_video", "video_input" or None

    @classmethod
    def parse(cls, key: str, raw: object) -> Sku:
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            raise ListingError(f"pricing_skus[{key!r}] is not a number")
        try:
            number = float(raw)
        except ValueError:
            raise ListingError(f"pricing_skus[{key!r}] = {str(raw)[:40]!r} is not a number") from None
        if not math.isfinite(number) or number < 0:
            raise ListingError(f"pricing_skus[{key!r}] = {str(raw)[:40]!r} is not a usable price")
        name = key.lower()
        match = _RESOLUTION_SUFFIX.search(name)
        resolution = match.group(1) if match else None
        audio = False if "without_audio" in name else True if "with_audio" in name else None
        mode = (
            "text_to_video"
            if name.startswith("text_to_video")
            else "image_to_video"
            if name.startswith("image_to_video")
            else "video_input"
            if "with_video_input" in name
            else None
        )
        if "token" in name:
            unit, value = "usd_per_token", number
        elif name.startswith("cents_per_") and "second" in name:
            unit, value = "usd_per_second", number / 100
        elif "duration_seconds" in name:
            unit, value = "usd_per_second", number
        else:
            unit, value = "other", number
        return cls(key=key, unit=unit, value=value, resolution=resolution, audio=audio, mode=mode)

    def applies(self, resolution: str, audio: bool) -> bool:
        return (
            self.unit == "usd_per_second"
            and self.mode in (None, "text_to_video")
            and self.resolution in (None, resolution)
            and self.audio in (None, audio)
        )


def _rate(skus: list[Sku], resolution: str, audio: bool) -> float | None:
    """The most specific per-second rate: an audio match beats a resolution match beats a text-to-video one."""
    candidates = [s for s in skus if s.applies(resolution, audio)]
    if not candidates:
        return None
    best = max(candidates, key=lambda s: (s.audio is not None, s.resolution is not None, s.mode is not None))
    return round(best.value, 6)


@dataclass(frozen=True)
class Prices:
    without_audio: dict[str, float] | None
    with_audio: dict[str, float] | None
    note: str | None


def _prices(raw: object, sizes: dict[str, str], audio: AudioMode) -> tuple[Prices, list[str]]:
    """Per-size prices from `pricing_skus`; `sizes` maps each size to its resolution tier."""
    problems: list[str] = []
    if raw is None:
        return Prices(None, None, "the listing gives no pricing_skus"), problems
    if not isinstance(raw, dict):
        return Prices(None, None, "pricing_skus is not an object"), ["pricing_skus is not an object; no price"]
    skus: list[Sku] = []
    for key, value in raw.items():
        try:
            skus.append(Sku.parse(str(key), value))
        except ListingError as exc:
            problems.append(f"{exc}; ignored")
    notes: list[str] = []
    tokens = [s for s in skus if s.unit == "usd_per_token" and s.mode is None]
    if not any(s.unit == "usd_per_second" for s in skus):
        if tokens:
            base = next((s for s in tokens if s.resolution is None and s.audio is None), tokens[0])
            notes.append(f"priced per video token ({base.key} ${base.value:g}/token); no per-second estimate")
        else:
            notes.append("no per-second price in pricing_skus (" + ", ".join(sorted(raw)) + ")" if raw else "")
        return Prices(None, None, "; ".join(n for n in notes if n) or None), problems
    image = sorted({s.key for s in skus if s.mode == "image_to_video"})
    if image:
        notes.append("image-to-video is priced separately (" + ", ".join(image) + "); estimates are text-to-video")

    def table(with_audio: bool) -> dict[str, float] | None:
        rates = {size: _rate(skus, tier, with_audio) for size, tier in sizes.items()}
        unpriced = [size for size, rate in rates.items() if rate is None]
        if unpriced:
            notes.append(f"no {'with' if with_audio else 'without'}-audio price for {', '.join(unpriced)}")
            return None
        return {size: rate for size, rate in rates.items() if rate is not None}

    if audio == "optional":
        plain, loud = table(False), table(True)
        if loud == plain:
            loud = None
    else:
        plain, loud = table(audio != "none"), None
    return Prices(plain, loud, "; ".join(notes) or None), problems


def _string_list(entry: dict[str, Any], field: str) -> list[str] | None:
    value = entry.get(field)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ListingError(f"{field} must be a list of strings or null")
    return list(dict.fromkeys(value))


def _durations(entry: dict[str, Any]) -> tuple[int, ...] | None:
    value = entry.get("supported_durations")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ListingError("supported_durations must be a list of whole numbers or null")
    if any(v <= 0 or v > MAX_LISTED_DURATION for v in value):
        raise ListingError(f"supported_durations must lie in 1..{MAX_LISTED_DURATION} seconds")
    return tuple(sorted(set(value)))


def _shapes(entry: dict[str, Any]) -> tuple[dict[str, str], dict[str, Frame]]:
    """Sizes in listing order with their tier, and frames when the sizes are derived (then sent as tier + ratio)."""
    listed = _string_list(entry, "supported_sizes")
    resolutions = _string_list(entry, "supported_resolutions")
    ratios = _string_list(entry, "supported_aspect_ratios")
    if listed:
        sizes: dict[str, str] = {}
        for text in listed:
            try:
                size = Size.parse(text)
            except SizeError as exc:
                raise ListingError(f"supported_sizes: {exc}") from None
            sizes.setdefault(str(size), resolution_of(size))
        return sizes, {}
    if not resolutions or not ratios:
        raise ListingError("neither supported_sizes nor both supported_resolutions and supported_aspect_ratios")
    sizes = {}
    frames: dict[str, Frame] = {}
    for resolution in resolutions:
        for ratio in ratios:
            text = str(nominal_size(resolution, ratio))
            if text not in frames:
                frames[text] = Frame(resolution=resolution, aspect_ratio=ratio)
                sizes[text] = resolution.lower()
    return sizes, frames


def _default_size(sizes: list[str]) -> str:
    if "1280x720" in sizes:
        return "1280x720"
    parsed = [Size.parse(s) for s in sizes]
    landscape = [s for s in parsed if s.orientation == "landscape"] or parsed
    return str(
        min(landscape, key=lambda s: (abs(min(s.width, s.height) - 720), abs(s.width / s.height - 16 / 9), s.area))
    )


def model_from_listing(entry: object, source: str) -> ModelSpec | ListedModel:
    """One listing entry as a model, or as a listed-only model with the reason; `ListingError` if malformed."""
    if not isinstance(entry, dict):
        raise ListingError("the entry is not an object")
    model_id = entry.get("id")
    if not isinstance(model_id, str) or not model_id.strip() or len(model_id) > 200:
        raise ListingError("the entry has no usable id")
    sources = [source]
    slug = entry.get("canonical_slug")
    if isinstance(slug, str) and slug:
        sources.append(f"canonical slug {slug[:200]}")
    durations = _durations(entry)
    if not durations:
        return ListedModel(
            id=model_id,
            reason="the listing gives no durations (supported_durations is null), so no legal request can be built",
            sources=tuple(sources),
        )
    sizes, frames = _shapes(entry)
    generate_audio = entry.get("generate_audio")
    audio: AudioMode = "optional" if generate_audio is True else "none"
    if generate_audio is None:
        sources.append("generate_audio is null: whether the model makes sound is not stated; audio not requested")
    frame_list = _string_list(entry, "supported_frame_images") or []
    frame_images = tuple(f for f in _FRAME_IMAGES if f in frame_list)
    if frame_images == ("last_frame",):
        frame_images = ()
        sources.append("supported_frame_images lists last_frame without first_frame; no frame images offered")
    prices, problems = _prices(entry.get("pricing_skus"), sizes, audio)
    if prices.note:
        sources.append(f"price: {prices.note}")
    sources += [f"pricing_skus: {p}" for p in problems]
    size_list = list(sizes)
    try:
        return ModelSpec(
            id=model_id,
            seconds=durations,
            sizes=tuple(size_list),
            default_seconds=durations[0],
            default_size=_default_size(size_list),
            audio=audio,
            seed=entry.get("seed") is True,
            frame_images=frame_images,
            frames=frames,
            price_per_second_usd=prices.without_audio,
            price_per_second_with_audio_usd=prices.with_audio,
            price_note=prices.note,
            seconds_wire="integer",
            duration_param="duration",
            sources=tuple(sources),
        )
    except ValidationError as exc:
        raise ListingError("; ".join(str(e["msg"]) for e in exc.errors())) from None


def catalog_from_listing(
    data: object,
    *,
    fetched_at: dt.datetime | None,
    source: str,
    profile: str = "openrouter",
    title: str = "OpenRouter video models (from the provider's listing)",
    description: str = "",
    dialect: Dialect = "openrouter",
) -> Catalog:
    """A catalog from a listing `{"data": [model, ...]}`; raises `CatalogError` only when no model is usable."""
    entries = data.get("data") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise CatalogError(f"{source}: a model listing must be an object with a 'data' list")
    models: list[ModelSpec] = []
    listed: list[ListedModel] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        label = f"data[{index}]"
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            label += f" (id '{entry['id'][:80]}')"
        try:
            model = model_from_listing(entry, source)
        except ListingError as exc:
            warnings.append(f"{label} skipped: {exc}")
            continue
        if model.id.lower() in seen:
            warnings.append(f"{label} skipped: the id is listed twice")
            continue
        seen.add(model.id.lower())
        if isinstance(model, ListedModel):
            listed.append(model)
        else:
            models.append(model)
    for warning in warnings:
        log.warning("model listing %s: %s", source, warning)
    if not models:
        detail = "; ".join(warnings[:5]) if warnings else "the listing is empty"
        raise CatalogError(f"{source}: no usable model in the listing ({detail})")
    when = f" fetched {fetched_at.isoformat()}" if fetched_at is not None else ""
    return Catalog(
        profile=profile,
        title=title,
        description=description or f"Built from {source}{when}: each model's legal values as the provider lists them.",
        dialect=dialect,
        source=source,
        fetched_at=fetched_at,
        models=tuple(models),
        listed_only=tuple(listed),
        warnings=tuple(warnings),
    )


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def catalog_from_listing_data(data: object, origin: str, **kwargs: Any) -> Catalog:
    """A listing document's catalog; a top-level `fetched_at` (ISO 8601) and `source` are honoured if present."""
    fetched_at = _parse_time(data.get("fetched_at")) if isinstance(data, dict) else None
    source = data.get("source") if isinstance(data, dict) else None
    if not (isinstance(source, str) and source.strip()):
        source = f"model listing {origin}"
    try:
        return catalog_from_listing(data, fetched_at=fetched_at, source=source[:300], **kwargs)
    except CatalogError as exc:
        raise CatalogError(f"catalog {origin}: {exc}") from None
