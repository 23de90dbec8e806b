"""`list_models`: what the active profile can make, at what price, and whether it is still served."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from sora_mcp.catalog import AudioMode, Catalog, Dialect, DurationParam, FrameImage, ModelSpec, ModelStatus, SecondsWire
from sora_mcp.runtime import Runtime
from sora_mcp.tooling import ToolSpec, hints, ok


class SizePrice(BaseModel):
    size: str
    usd_per_second: float | None = Field(default=None, description="None when the catalog has no price for this size")
    usd_per_second_with_audio: float | None = Field(
        default=None, description="With audio: true (models with optional audio); None: the same as without"
    )
    resolution: str | None = Field(
        default=None, description="How the size is sent on the wire, when sent as resolution + aspect ratio"
    )
    aspect_ratio: str | None = None


class Combination(BaseModel):
    seconds: list[int]
    sizes: list[str] = Field(description="every duration of this entry works with every size of it")


class ModelInfo(BaseModel):
    id: str
    aliases: list[str]
    seconds: list[int] = Field(description="Legal durations; send one of these as a string, e.g. '8'")
    sizes: list[str]
    combinations: list[Combination] = Field(
        default_factory=list,
        description="The legal (seconds, size) pairs as rectangles; a single entry: any duration with any size",
    )
    default_seconds: int
    default_size: str
    audio: AudioMode = Field(description="none, always, synchronized, or optional (ask with video.audio: true)")
    seed: bool = Field(default=False, description="video.seed is accepted")
    frame_images: list[FrameImage] = Field(
        default_factory=list,
        description="first_frame: reference_image is accepted; last_frame: video.last_frame is accepted",
    )
    prices: list[SizePrice]
    usd_per_request: float | None = Field(default=None, description="A flat price per video, whatever its length")
    price_note: str | None = None
    status: ModelStatus
    retired_on: str | None = Field(default=None, description="ISO date the model stopped being served, if retired")
    seconds_wire: SecondsWire
    duration_param: DurationParam = Field(default="seconds", description="The length field's name on the wire")
    max_extension_seconds: int | None = Field(
        default=None, description="Total length extend_video can reach; None: no extension"
    )


class ListedOnly(BaseModel):
    id: str
    reason: str = Field(description="why the model cannot be requested")


class ModelList(BaseModel):
    backend: str = Field(description="'sandbox' (offline, renders are synthetic) or 'provider (<base url>)'")
    profile: str
    catalog_title: str
    dialect: Dialect = "openai"
    catalog_source: str | None = Field(default=None, description="Where the catalog's values come from")
    fetched_at: str | None = Field(default=None, description="ISO time the provider's listing was read, if built so")
    age_hours: float | None = Field(default=None, description="Hours since fetched_at")
    models: list[ModelInfo]
    listed_only: list[ListedOnly] = Field(default_factory=list, description="Listed by the provider, not creatable")
    warnings: list[str] = Field(default_factory=list, description="What building the catalog skipped")


def _size_price(spec: ModelSpec, size: str) -> SizePrice:
    frame = spec.frame(size)
    with_audio = spec.price_per_second_with_audio_usd
    return SizePrice(
        size=size,
        usd_per_second=spec.price_per_second(size),
        usd_per_second_with_audio=with_audio.get(size) if with_audio else None,
        resolution=frame.resolution if frame else None,
        aspect_ratio=frame.aspect_ratio if frame else None,
    )


def model_info(spec: ModelSpec) -> ModelInfo:
    return ModelInfo(
        id=spec.id,
        aliases=list(spec.aliases),
        seconds=list(spec.seconds),
        sizes=list(spec.sizes),
        combinations=[Combination(seconds=list(secs), sizes=list(sizes)) for secs, sizes in spec.rectangles()],
        default_seconds=spec.default_seconds,
        default_size=spec.default_size,
        audio=spec.audio,
        seed=spec.seed,
        frame_images=list(spec.frame_images),
        prices=[_size_price(spec, s) for s in spec.sizes],
        usd_per_request=spec.price_per_request_usd,
        price_note=spec.price_note,
        status=spec.status,
        retired_on=spec.retirement.date.isoformat() if spec.retirement and spec.status == "retired" else None,
        seconds_wire=spec.seconds_wire,
        duration_param=spec.duration_param,
        max_extension_seconds=spec.extension.max_total_seconds if spec.extension else None,
    )


def _price_text(info: ModelInfo) -> str:
    if info.usd_per_request is not None:
        return f"${info.usd_per_request:.2f} per video"
    prices = sorted({p.usd_per_second for p in info.prices if p.usd_per_second is not None})
    loud = sorted({p.usd_per_second_with_audio for p in info.prices if p.usd_per_second_with_audio is not None})
    if not prices:
        return "price unknown" + (f" ({info.price_note})" if info.price_note else "")
    text = f"${prices[0]:.2f}/s" if len(prices) == 1 else f"${prices[0]:.2f}-{prices[-1]:.2f}/s"
    if loud:
        text += f" (with audio ${loud[0]:.2f}" + (f"-{loud[-1]:.2f}" if len(loud) > 1 else "") + "/s)"
    return text


def _summary_line(info: ModelInfo) -> str:
    status = {"active": "", "retired": f", RETIRED {info.retired_on}", "unverified": ", unverified"}[info.status]
    if len(info.combinations) > 1:
        shape = "; ".join(
            f"{', '.join(str(s) for s in c.seconds)} s with {', '.join(c.sizes)}" for c in info.combinations
        )
    else:
        shape = f"{', '.join(str(s) for s in info.seconds)} s; {', '.join(info.sizes)}"
    extras = "".join(
        f"; {text}"
        for flag, text in (
            (info.seed, "seed"),
            ("last_frame" in info.frame_images, "first and last frame"),
            (not info.frame_images, "no reference image"),
        )
        if flag
    )
    return f"- {info.id}: {shape}; audio {info.audio}{extras}; {_price_text(info)}{status}"


def _age_hours(catalog: Catalog, now: dt.datetime) -> float | None:
    if catalog.fetched_at is None:
        return None
    fetched = catalog.fetched_at if catalog.fetched_at.tzinfo else catalog.fetched_at.replace(tzinfo=dt.UTC)
    return round(max(0.0, (now - fetched).total_seconds() / 3600), 1)


def _age_text(hours: float) -> str:
    return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.0f} days"


def describe_catalog(catalog: Catalog, backend: str, now: dt.datetime) -> tuple[str, ModelList]:
    """The text and structured answer of list_models for `catalog` at `now`."""
    age = _age_hours(catalog, now)
    result = ModelList(
        backend=backend,
        profile=catalog.profile,
        catalog_title=catalog.title,
        dialect=catalog.dialect,
        catalog_source=catalog.source,
        fetched_at=catalog.fetched_at.isoformat() if catalog.fetched_at else None,
        age_hours=age,
        models=[model_info(m) for m in catalog],
        listed_only=[ListedOnly(id=m.id, reason=m.reason) for m in catalog.listed_only],
        warnings=list(catalog.warnings),
    )
    lines = [f"Profile '{catalog.profile}' ({catalog.dialect} dialect) on the {backend} backend:"]
    if catalog.source:
        lines.append(f"Source: {catalog.source}" + (f" ({_age_text(age)} old)" if age is not None else ""))
    lines += [_summary_line(m) for m in result.models]
    lines += [f"- {m.id}: listed, not creatable: {m.reason}" for m in result.listed_only]
    if result.warnings:
        lines.append(f"{len(result.warnings)} listing entries were skipped (see warnings).")
    lines.append("Call validate_params with what you want; it answers with the nearest legal request.")
    return "\n".join(lines), result


def specs(runtime: Runtime) -> list[ToolSpec]:
    def list_models() -> Annotated[CallToolResult, ModelList]:
        text, result = describe_catalog(runtime.catalog, runtime.backend_label, dt.datetime.now(dt.UTC))
        return ok(text, result)

    return [
        ToolSpec(
            fn=list_models,
            name="list_models",
            title="List video models",
            description=(
                "List the video models of the active provider profile with their legal durations (seconds), "
                "sizes and which durations go with which sizes, defaults, audio, seed, first/last frame images, "
                "prices and status (active, retired, unverified), plus where the catalog comes from and how old it is. "
                "Call this first when you do not know which model fits; then call validate_params with the "
                "request you have in mind, and create_video with the request it returns."
            ),
            annotations=hints(read_only=True, idempotent=True, open_world=False),
        )
    ]
