"""`list_models`: what the active profile can make, at what price, and whether it is still served."""

from __future__ import annotations

from typing import Annotated

from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from sora_mcp.catalog import AudioMode, ModelSpec, ModelStatus, SecondsWire
from sora_mcp.runtime import Runtime
from sora_mcp.tooling import ToolSpec, hints, ok


class SizePrice(BaseModel):
    size: str
    usd_per_second: float | None = Field(default=None, description="None when the catalog has no price for this size")


class ModelInfo(BaseModel):
    id: str
    aliases: list[str]
    seconds: list[int] = Field(description="Legal durations; send one of these as a string, e.g. '8'")
    sizes: list[str]
    default_seconds: int
    default_size: str
    audio: AudioMode
    prices: list[SizePrice]
    status: ModelStatus
    retired_on: str | None = Field(default=None, description="ISO date the model stopped being served, if retired")
    seconds_wire: SecondsWire
    max_extension_seconds: int | None = Field(
        default=None, description="Total length extend_video can reach; None: no extension"
    )


class ModelList(BaseModel):
    backend: str = Field(description="'sandbox' (offline, renders are synthetic) or 'provider (<base url>)'")
    profile: str
    catalog_title: str
    models: list[ModelInfo]


def model_info(spec: ModelSpec) -> ModelInfo:
    return ModelInfo(
        id=spec.id,
        aliases=list(spec.aliases),
        seconds=list(spec.seconds),
        sizes=list(spec.sizes),
        default_seconds=spec.default_seconds,
        default_size=spec.default_size,
        audio=spec.audio,
        prices=[SizePrice(size=s, usd_per_second=spec.price_per_second(s)) for s in spec.sizes],
        status=spec.status,
        retired_on=spec.retirement.date.isoformat() if spec.retirement and spec.status == "retired" else None,
        seconds_wire=spec.seconds_wire,
        max_extension_seconds=spec.extension.max_total_seconds if spec.extension else None,
    )


def _summary_line(info: ModelInfo) -> str:
    prices = sorted({p.usd_per_second for p in info.prices if p.usd_per_second is not None})
    if not prices:
        price = "price unknown"
    elif len(prices) == 1:
        price = f"${prices[0]:.2f}/s"
    else:
        price = f"${prices[0]:.2f}-{prices[-1]:.2f}/s"
    status = {"active": "", "retired": f", RETIRED {info.retired_on}", "unverified": ", unverified"}[info.status]
    return (
        f"- {info.id}: {', '.join(str(s) for s in info.seconds)} s; {', '.join(info.sizes)}; "
        f"audio {info.audio}; {price}{status}"
    )


def specs(runtime: Runtime) -> list[ToolSpec]:
    def list_models() -> Annotated[CallToolResult, ModelList]:
        catalog = runtime.catalog
        result = ModelList(
            backend=runtime.backend_label,
            profile=catalog.profile,
            catalog_title=catalog.title,
            models=[model_info(m) for m in catalog],
        )
        lines = [f"Profile '{catalog.profile}' on the {runtime.backend_label} backend:"]
        lines += [_summary_line(m) for m in result.models]
        lines.append("Call validate_params with what you want; it answers with the nearest legal request.")
        return ok("\n".join(lines), result)

    return [
        ToolSpec(
            fn=list_models,
            name="list_models",
            title="List video models",
            description=(
                "List the video models of the active provider profile with their legal durations (seconds), "
                "sizes, defaults, audio, price per second and status (active, retired, unverified). "
                "Call this first when you do not know which model fits; then call validate_params with the "
                "request you have in mind, and create_video with the request it returns."
            ),
            annotations=hints(read_only=True, idempotent=True, open_world=False),
        )
    ]
