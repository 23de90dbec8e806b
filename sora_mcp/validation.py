"""Turn any wish (model?, seconds?, size?, reference image?) into a verdict and the nearest legal request.

This never raises on bad input: an agent asking "can I have 10 s of 1080p on sora-2?" gets the API's own
error for each problem, the corrected request, the legal neighbours of its duration, other models that do
exactly what it asked, and the price. `create_video` uses the same check, so what validates is what runs.
"""

from __future__ import annotations

import difflib
import math
import re

from pydantic import BaseModel, Field

from sora_mcp.api_errors import ApiError, invalid_value, reference_size_mismatch
from sora_mcp.catalog import Catalog, ModelSpec
from sora_mcp.sizes import Size, SizeError, SizeWish, nearest_size, parse_size_wish

_SECONDS_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:s|sec|secs|second|seconds)?\s*$", re.IGNORECASE)


class LegalRequest(BaseModel):
    """A request the catalog accepts, with `seconds` both as a number and in the provider's wire type."""

    model: str
    seconds: int
    size: str
    wire_seconds: str | int = Field(description="seconds exactly as the provider wants it on the wire")
    estimated_cost_usd: float | None = None


class SecondsNeighbours(BaseModel):
    below: int | None = Field(default=None, description="largest legal duration under the wish")
    above: int | None = Field(default=None, description="smallest legal duration over the wish")


class Alternative(BaseModel):
    """Another model that grants the wish exactly where the chosen one cannot."""

    model: str
    seconds: int
    size: str
    estimated_cost_usd: float | None = None
    reason: str


class ReferenceCheck(BaseModel):
    width: int
    height: int
    matches: bool
    fix: str | None = None


class Verdict(BaseModel):
    """The whole answer to one wish."""

    valid: bool = Field(description="True when the wish as given is a legal request that can be created now")
    errors: list[ApiError] = Field(description="each problem, in the provider's own error shape and wording")
    request: LegalRequest | None = Field(default=None, description="the nearest legal request")
    adjustments: list[str] = Field(default_factory=list, description="what was changed to reach the request")
    seconds_neighbours: SecondsNeighbours | None = None
    alternatives: list[Alternative] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    reference_image: ReferenceCheck | None = None


class Wish(BaseModel):
    """Loose input: anything an agent might say about the video it wants."""

    model: str | None = None
    seconds: int | float | str | None = None
    size: str | None = None
    reference_width: int | None = None
    reference_height: int | None = None


def _parse_seconds(raw: int | float | str) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw) if math.isfinite(raw) else None
    match = _SECONDS_TEXT.match(raw)
    return float(match.group(1)) if match else None


def _show(raw: int | float | str) -> str:
    """How the API would quote the value back: `10`, not `10.0`."""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw).strip()


def nearest_seconds(wanted: float, legal: tuple[int, ...]) -> int:
    """The closest legal duration; a tie goes to the longer one (6 s on 4/8/12 becomes 8, as the seed table says)."""
    return min(legal, key=lambda s: (abs(s - wanted), -s))


def neighbours(wanted: float, legal: tuple[int, ...]) -> SecondsNeighbours:
    below = [s for s in legal if s < wanted]
    above = [s for s in legal if s > wanted]
    return SecondsNeighbours(below=max(below) if below else None, above=min(above) if above else None)


def _usable(model: ModelSpec) -> bool:
    return model.status != "retired"


def _pick_model(catalog: Catalog, seconds: float | None, size: Size | None) -> ModelSpec:
    """No model named: the first usable model that grants the wish exactly, else the first usable one."""
    usable = [m for m in catalog if _usable(m)] or list(catalog)
    for model in usable:
        if (seconds is None or seconds in model.seconds) and (size is None or str(size) in model.sizes):
            return model
    if seconds is not None:
        for model in usable:
            if seconds in model.seconds:
                return model
    return usable[0]


def _closest_name(catalog: Catalog, name: str) -> ModelSpec | None:
    match = difflib.get_close_matches(name.strip().lower(), [n.lower() for n in catalog.model_names], n=1, cutoff=0.6)
    return catalog.find(match[0]) if match else None


def _canonical_name(model: ModelSpec, asked: str | None) -> str:
    """Keep a snapshot alias the agent asked for (spelled as the catalog spells it), else the model id."""
    if asked is not None:
        for name in model.names:
            if name.lower() == asked.strip().lower():
                return name
    return model.id


def wire_value(model: ModelSpec, seconds: int) -> str | int:
    return str(seconds) if model.seconds_wire == "string" else seconds


def check(catalog: Catalog, wish: Wish) -> Verdict:
    """Validate `wish` against `catalog` and propose the nearest legal request. Never raises for bad input."""
    errors: list[ApiError] = []
    adjustments: list[str] = []
    warnings: list[str] = []

    wanted_seconds: float | None = None
    if wish.seconds is not None:
        wanted_seconds = _parse_seconds(wish.seconds)
        if wanted_seconds is None or wanted_seconds <= 0:
            wanted_seconds = None
            unreadable_seconds = True
        else:
            unreadable_seconds = False
    else:
        unreadable_seconds = False

    size_wish: SizeWish | None = None
    size_error: str | None = None
    if wish.size is not None:
        try:
            size_wish = parse_size_wish(wish.size)
        except SizeError as exc:
            size_error = str(exc)

    # 1. The model.
    model: ModelSpec
    if wish.model is None or not wish.model.strip():
        model = _pick_model(catalog, wanted_seconds, size_wish.exact if size_wish else None)
        adjustments.append(f"model: none given; chose '{model.id}'")
    else:
        found = catalog.find(wish.model)
        if found is None:
            errors.append(invalid_value("model", wish.model, catalog.model_ids))
            guess = _closest_name(catalog, wish.model)
            model = guess or _pick_model(catalog, wanted_seconds, size_wish.exact if size_wish else None)
            adjustments.append(f"model: '{wish.model}' is not offered; chose '{model.id}'")
        else:
            model = found
    if model.status == "retired":
        date = model.retirement.date.isoformat() if model.retirement else "an earlier date"
        errors.append(
            ApiError(
                message=f"The model '{model.id}' was retired on {date} and is no longer served by this provider.",
                param="model",
                code="model_not_found",
            )
        )
        warnings.append(
            f"'{model.id}' was retired on {date} on this endpoint: creating will be refused. Point "
            "OPENAI_BASE_URL at a compatible provider that still serves it, or choose another profile "
            "(SORA_MCP_PROFILE) or catalog file (SORA_MCP_CATALOG)."
        )
    elif model.status == "unverified":
        warnings.append(f"'{model.id}' is unverified: this provider's current rules for it are not confirmed.")

    # 2. The duration.
    legal_seconds = model.seconds
    seconds_neighbours: SecondsNeighbours | None = None
    if wish.seconds is None:
        seconds = model.default_seconds
        adjustments.append(f"seconds: none given; used the default {seconds}")
    elif unreadable_seconds or wanted_seconds is None:
        errors.append(invalid_value("seconds", _show(wish.seconds), model.wire_seconds))
        seconds = model.default_seconds
        adjustments.append(f"seconds: '{_show(wish.seconds)}' is not a number of seconds; used the default {seconds}")
    elif wanted_seconds in legal_seconds:
        seconds = int(wanted_seconds)
    else:
        errors.append(invalid_value("seconds", _show(wish.seconds), model.wire_seconds))
        seconds = nearest_seconds(wanted_seconds, legal_seconds)
        seconds_neighbours = neighbours(wanted_seconds, legal_seconds)
        adjustments.append(f"seconds: {_show(wish.seconds)} is not offered by '{model.id}'; nearest legal is {seconds}")

    # 3. The size.
    legal_sizes = model.frame_sizes
    default_size = Size.parse(model.default_size)
    if wish.size is None:
        size = default_size
        adjustments.append(f"size: none given; used the default {size}")
    elif size_wish is None:
        errors.append(invalid_value("size", wish.size.strip(), model.sizes))
        size = default_size
        adjustments.append(f"size: {size_error}; used the default {size}")
    elif size_wish.exact is not None and str(size_wish.exact) in model.sizes:
        size = size_wish.exact
    else:
        size = nearest_size(size_wish, legal_sizes, default_size)
        if size_wish.exact is not None:
            errors.append(invalid_value("size", str(size_wish.exact), model.sizes))
            adjustments.append(f"size: {size_wish.exact} is not offered by '{model.id}'; nearest legal is {size}")
        else:
            adjustments.append(f"size: '{wish.size.strip()}' means {size} on '{model.id}'")

    # 4. Other models that grant the wish exactly.
    alternatives: list[Alternative] = []
    wanted_exact_size = size_wish.exact if size_wish is not None else None
    seconds_missed = wanted_seconds is not None and wanted_seconds not in model.seconds
    size_missed = wanted_exact_size is not None and str(wanted_exact_size) not in model.sizes
    if seconds_missed or size_missed:
        for other in catalog:
            if other.id == model.id or not _usable(other):
                continue
            seconds_ok = wanted_seconds is None or wanted_seconds in other.seconds
            size_ok = wanted_exact_size is None or str(wanted_exact_size) in other.sizes
            if not (seconds_ok and size_ok):
                continue
            alt_seconds = int(wanted_seconds) if wanted_seconds is not None else other.default_seconds
            if wanted_exact_size is not None:
                alt_size = str(wanted_exact_size)
            elif size_wish is not None:
                alt_size = str(nearest_size(size_wish, other.frame_sizes, Size.parse(other.default_size)))
            else:
                alt_size = str(nearest_size(SizeWish(exact=size), other.frame_sizes, Size.parse(other.default_size)))
            granted = []
            if wanted_seconds is not None:
                granted.append(f"{alt_seconds} s")
            if wanted_exact_size is not None:
                granted.append(alt_size)
            reason = f"'{other.id}' offers {' at '.join(granted)} exactly"
            alternatives.append(
                Alternative(
                    model=other.id,
                    seconds=alt_seconds,
                    size=alt_size,
                    estimated_cost_usd=other.cost(alt_seconds, alt_size),
                    reason=reason,
                )
            )

    # 5. The reference image.
    reference: ReferenceCheck | None = None
    if wish.reference_width is not None and wish.reference_height is not None:
        matches = (wish.reference_width, wish.reference_height) == (size.width, size.height)
        fix = None
        if not matches:
            errors.append(reference_size_mismatch())
            fix = (
                f"call fit_reference_image with size '{size}' (mode 'cover' crops to fill, 'pad' keeps the whole "
                "picture with bars); create_video also fits it for you unless fit is 'none'"
            )
        reference = ReferenceCheck(width=wish.reference_width, height=wish.reference_height, matches=matches, fix=fix)
    elif (wish.reference_width is None) != (wish.reference_height is None):
        warnings.append("reference image: give both reference_width and reference_height to check it")

    request = LegalRequest(
        model=_canonical_name(model, wish.model),
        seconds=seconds,
        size=str(size),
        wire_seconds=wire_value(model, seconds),
        estimated_cost_usd=model.cost(seconds, str(size)),
    )
    if request.estimated_cost_usd is None:
        warnings.append(f"the catalog has no price for '{model.id}' at {size}; the cost is unknown")
    return Verdict(
        valid=not errors,
        errors=errors,
        request=request if model.status != "retired" else None,
        adjustments=adjustments,
        seconds_neighbours=seconds_neighbours,
        alternatives=alternatives,
        warnings=warnings,
        reference_image=reference,
    )


def summarize(verdict: Verdict) -> str:
    """One or two lines an agent can act on without parsing the structured content."""
    request = verdict.request
    if verdict.valid and request is not None:
        cost = f", about ${request.estimated_cost_usd:.2f}" if request.estimated_cost_usd is not None else ""
        return (
            f"Valid: {request.model}, {request.seconds} s, {request.size}{cost}. "
            f"Pass video={{model: '{request.model}', seconds: '{request.seconds}', size: '{request.size}'}} "
            "to create_video."
        )
    parts = ["Not valid: " + " ".join(e.message for e in verdict.errors)]
    if request is not None:
        cost = f" (about ${request.estimated_cost_usd:.2f})" if request.estimated_cost_usd is not None else ""
        parts.append(f"Nearest legal request: {request.model}, {request.seconds} s, {request.size}{cost}.")
    if verdict.seconds_neighbours is not None:
        n = verdict.seconds_neighbours
        options = [str(s) for s in (n.below, n.above) if s is not None]
        parts.append(f"Legal durations around the wish: {' or '.join(options)} s.")
    if verdict.alternatives:
        alt = verdict.alternatives[0]
        parts.append(f"Or use {alt.model}: {alt.seconds} s at {alt.size} ({alt.reason}).")
    if verdict.reference_image is not None and verdict.reference_image.fix:
        parts.append(f"Reference image: {verdict.reference_image.fix}.")
    parts.extend(verdict.warnings)
    return " ".join(parts)
