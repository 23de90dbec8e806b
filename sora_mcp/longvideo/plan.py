"""The long-video planner: pure, offline, free. Total seconds and shots in, the cheapest legal plan out.

A model renders at most its longest legal duration, so a longer video is made of segments. Two ways to keep
continuity across a cut: each next segment starts from the previous segment's last frame (any model that
takes a first frame), or the provider extends the video (models whose catalog entry has extension limits,
on dialects that can extend). The planner prices both from the catalog and picks, in this order: the exact
total (else the nearest, said plainly), the lower cost, fewer jobs, then frame chaining.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from sora_mcp.catalog import Catalog, ModelSpec
from sora_mcp.errors import ToolError

Method = Literal["auto", "first_frame", "extend"]
Continuity = Literal["prompt", "first_frame_image", "previous_last_frame", "extension", "cut"]
MAX_TOTAL_SECONDS = 600
MAX_SEGMENTS = 50
MINUTES_PER_SEGMENT = 1.0
MINUTES_PER_VIDEO_SECOND = 1 / 6
"""A rough guide only: segments run one after another, and a provider takes minutes per segment."""


class Shot(BaseModel):
    """One shot as asked: its prompt and, optionally, its length in seconds."""

    prompt: str
    seconds: int | None = None


class PlannedSegment(BaseModel):
    index: int = Field(description="0-based")
    prompt: str
    seconds: int = Field(description="the seconds this segment adds to the video")
    starts_at: int = Field(description="where it starts in the finished video, in seconds")
    continuity: Continuity = Field(
        description=(
            "how it joins the previous one: previous_last_frame (starts from its last frame), extension (the "
            "provider continues it), cut (no continuity); the first segment: prompt or first_frame_image"
        )
    )
    estimated_cost_usd: float | None = None
    reuse_job_id: str | None = Field(
        default=None, description="a finished segment of a failed long video, kept instead of made again"
    )


class LongVideoPlan(BaseModel):
    """A legal plan for one long video; `create_long_video` runs exactly this."""

    model: str
    size: str
    requested_seconds: int
    total_seconds: int
    method: Literal["first_frame", "extend", "cut"]
    audio: bool = Field(description="the finished video has an audio track")
    segments: list[PlannedSegment]
    estimated_cost_usd: float | None = Field(description="None: the catalog has no price for this model")
    estimated_minutes: float = Field(description="rough: segments render one after another")
    first_frame: str | None = Field(default=None, description="the fitted first-frame image, if one was given")
    last_frame: str | None = Field(
        default=None, description="the fitted image the whole video ends on (the last segment's last frame)"
    )
    summary: str
    notes: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Ask:
    """What the agent wants, before any model is chosen."""

    total_seconds: int
    shots: tuple[Shot, ...]
    model: str | None = None
    size: str | None = None
    method: Method = "auto"
    audio: bool = False
    first_frame: bool = False
    last_frame: bool = False
    """End the video on a given image: only models that take a last frame, and no extensions."""
    can_extend: bool = True
    """The dialect can extend videos at all (the catalog's limits say how far)."""


@dataclass(frozen=True)
class _Candidate:
    model: ModelSpec
    size: str
    method: Literal["first_frame", "extend", "cut"]
    seconds: tuple[int, ...]
    cost: float | None

    @property
    def total(self) -> int:
        return sum(self.seconds)

    def key(self, wanted: int) -> tuple[int, int, float, int, int]:
        under = 0 if self.total <= wanted else 1
        cost = self.cost if self.cost is not None else math.inf
        return (abs(self.total - wanted), under, cost, len(self.seconds), 0 if self.method != "extend" else 1)


def _refuse(
    message: str, fix: str, *, param: str, code: str = "invalid_value", legal: list[object] | None = None
) -> ToolError:
    return ToolError.of("request", message, code=code, param=param, fix=fix, legal_values=legal)


def legal_seconds(model: ModelSpec, size: str) -> tuple[int, ...]:
    return tuple(s for s in model.seconds if model.allows(s, size))


def _cost(model: ModelSpec, seconds: tuple[int, ...], size: str, audio: bool) -> float | None:
    prices = [model.cost(s, size, audio=audio) for s in seconds]
    if any(p is None for p in prices):
        return None
    return round(sum(p for p in prices if p is not None), 4)


def _chain(model: ModelSpec, size: str, ask: Ask) -> tuple[int, ...] | None:
    """Legal durations for frame-chained segments: one per shot when there are several, else any count."""
    legal = legal_seconds(model, size)
    if not legal:
        return None
    total = ask.total_seconds
    fixed = [s.seconds for s in ask.shots]
    if len(ask.shots) > 1 or fixed[0] is not None:
        return _per_shot(model, size, ask, legal)
    # one prompt: the fewest, cheapest segments whose sum is nearest the total (unbounded knapsack)
    top = total + max(legal)
    best: dict[int, tuple[float, int, tuple[int, ...]]] = {0: (0.0, 0, ())}
    for amount in range(1, top + 1):
        for d in legal:
            prev = best.get(amount - d)
            if prev is None:
                continue
            price = model.cost(d, size, audio=ask.audio) or 0.0
            option = (round(prev[0] + price, 6), prev[1] + 1, (*prev[2], d))
            if option[1] <= MAX_SEGMENTS and (amount not in best or option[:2] < best[amount][:2]):
                best[amount] = option
    reachable = [a for a in best if a > 0]
    if not reachable:
        return None
    chosen = min(reachable, key=lambda a: (abs(a - total), a > total, best[a][0], best[a][1]))
    return tuple(sorted(best[chosen][2], reverse=True))


def _per_shot(model: ModelSpec, size: str, ask: Ask, legal: tuple[int, ...]) -> tuple[int, ...] | None:
    """One legal duration per shot (given ones kept), sum nearest the total, cheapest, most even."""
    options: list[tuple[int, ...]] = []
    for shot in ask.shots:
        if shot.seconds is not None:
            if shot.seconds not in legal:
                return None
            options.append((shot.seconds,))
        else:
            options.append(legal)
    if not sum(min(c) for c in options) <= ask.total_seconds <= sum(max(c) for c in options):
        return None  # these shots cannot make that total: refused with the ranges that work
    states: dict[int, tuple[float, int, tuple[int, ...]]] = {0: (0.0, 0, ())}
    for choices in options:
        following: dict[int, tuple[float, int, tuple[int, ...]]] = {}
        for amount, (price, _spread, picked) in states.items():
            for d in choices:
                seq = (*picked, d)
                option = (
                    round(price + (model.cost(d, size, audio=ask.audio) or 0.0), 6),
                    max(seq) - min(seq),
                    seq,
                )
                key = amount + d
                if key not in following or option[:2] < following[key][:2]:
                    following[key] = option
        states = following
    total = ask.total_seconds
    chosen = min(states, key=lambda a: (abs(a - total), a > total, states[a][0], states[a][1]))
    return states[chosen][2]


def _extension(model: ModelSpec, size: str, ask: Ask) -> tuple[int, ...] | None:
    """A legal first segment, then extension steps within the catalog's limits, reaching the total exactly."""
    limits = model.extension
    legal = legal_seconds(model, size)
    if limits is None or not legal or not ask.can_extend or ask.total_seconds > limits.max_total_seconds:
        return None
    total = ask.total_seconds
    best: tuple[int, ...] | None = None
    first_given = ask.shots[0].seconds
    for base in legal if first_given is None else (first_given,):
        if base not in legal or base > total:
            continue
        rest = total - base
        if len(ask.shots) > 1:
            steps = len(ask.shots) - 1
            given = [s.seconds for s in ask.shots[1:]]
            if any(g is not None for g in given):
                if None in given or sum(g or 0 for g in given) != rest:
                    continue
                parts = [int(g or 0) for g in given]
            else:
                parts = [rest // steps + (1 if i < rest % steps else 0) for i in range(steps)]
        else:
            steps = math.ceil(rest / limits.max_step_seconds)
            parts = [limits.max_step_seconds] * (rest // limits.max_step_seconds)
            if rest % limits.max_step_seconds:
                parts.append(rest % limits.max_step_seconds)
        if len(parts) > limits.max_steps or any(not 1 <= p <= limits.max_step_seconds for p in parts):
            continue
        candidate = (base, *parts)
        if best is None or _evenness(candidate) < _evenness(best):
            best = candidate
    return best


def _evenness(seconds: tuple[int, ...]) -> tuple[int, int, int]:
    """Fewer jobs first, then the most even lengths, then the longer first segment."""
    return (len(seconds), max(seconds) - min(seconds), -seconds[0])


def _models(catalog: Catalog, ask: Ask) -> list[ModelSpec]:
    if ask.model is not None:
        model = catalog.find(ask.model)
        if model is None:
            raise _refuse(
                f"Model '{ask.model}' is not in the catalog '{catalog.profile}'.",
                "Pick one of the listed models, or leave model out to let the planner choose.",
                param="model",
                legal=list(catalog.model_ids),
            )
        if model.status == "retired":
            raise _refuse(
                f"Model '{model.id}' is retired under profile '{catalog.profile}'.",
                "Pick an active model (list_models), or leave model out.",
                param="model",
                code="model_retired",
            )
        return [model]
    return [m for m in catalog if m.status != "retired" and (ask.size is None or ask.size in m.sizes)]


def _candidates(model: ModelSpec, ask: Ask) -> list[_Candidate]:
    size = ask.size or model.default_size
    if size not in model.sizes:
        return []
    audio = ask.audio and model.audio_optional
    found: list[_Candidate] = []
    frames = "first_frame" in model.frame_images
    if ask.method in ("auto", "first_frame"):
        chained = _chain(model, size, ask)
        if chained is not None:
            method: Literal["first_frame", "cut"] = "first_frame" if frames or len(chained) == 1 else "cut"
            found.append(_Candidate(model, size, method, chained, _cost(model, chained, size, audio)))
    if ask.method in ("auto", "extend") and not ask.last_frame:
        extended = _extension(model, size, ask)
        if extended is not None:
            found.append(_Candidate(model, size, "extend", extended, _cost(model, extended, size, audio)))
    return found


def _check_ask(catalog: Catalog, ask: Ask) -> None:
    if not 1 <= ask.total_seconds <= MAX_TOTAL_SECONDS:
        raise _refuse(
            f"total_seconds must be 1 to {MAX_TOTAL_SECONDS}, got {ask.total_seconds}.",
            f"Ask for at most {MAX_TOTAL_SECONDS} s in one long video.",
            param="total_seconds",
        )
    if not ask.shots or any(not s.prompt.strip() for s in ask.shots):
        raise _refuse(
            "Every shot needs a prompt.",
            "Give prompt (one for the whole video) or shots, each with a prompt describing that shot.",
            param="shots",
        )
    if len(ask.shots) > MAX_SEGMENTS:
        raise _refuse(f"At most {MAX_SEGMENTS} shots, got {len(ask.shots)}.", "Merge shots.", param="shots")
    given = [s.seconds for s in ask.shots if s.seconds is not None]
    if given and len(given) == len(ask.shots) and sum(given) != ask.total_seconds:
        raise _refuse(
            f"The shots' seconds add up to {sum(given)} s, not total_seconds {ask.total_seconds}.",
            f"Set total_seconds to {sum(given)}, or change the shots' seconds so they add up to {ask.total_seconds}.",
            param="shots",
        )


def _shots_do_not_fit(catalog: Catalog, ask: Ask, models: list[ModelSpec]) -> ToolError:
    """Why no plan exists, with the numbers that would work."""
    n = len(ask.shots)
    lines: list[str] = []
    fixes: list[str] = []
    for model in models:
        size = ask.size or model.default_size
        legal = legal_seconds(model, size)
        if not legal:
            lines.append(f"{model.id} has no legal duration at {size}")
            continue
        low, high = n * min(legal), n * max(legal)
        if model.extension is not None and ask.can_extend and ask.method != "first_frame":
            high = max(
                high, min(model.extension.max_total_seconds, max(legal) + (n - 1) * model.extension.max_step_seconds)
            )
        lines.append(f"{n} shot(s) on {model.id} at {size} make {low} to {high} s (durations {list(legal)})")
        if n > 1:
            fewest = math.ceil(ask.total_seconds / max(legal))
            most = ask.total_seconds // min(legal)
            fixes.append(f"on {model.id}: {fewest} to {max(fewest, most)} shots")
    message = f"{ask.total_seconds} s cannot be planned from these shots: " + "; ".join(lines) + "."
    fix = (
        f"Set total_seconds within the range above, or give {' or '.join(fixes)} (or one prompt and let the "
        "planner split it)."
        if fixes
        else "Set total_seconds within the range above, or leave the shots' seconds out."
    )
    return _refuse(message, fix, param="shots", code="shots_do_not_fit")


def plan(catalog: Catalog, ask: Ask) -> LongVideoPlan:
    """The cheapest legal plan for `ask` on `catalog` (see the module docstring for the order of preference)."""
    _check_ask(catalog, ask)
    models = _models(catalog, ask)
    if not models and all(m.status == "retired" for m in catalog):
        raise _refuse(
            f"Every model of profile '{catalog.profile}' is retired ({', '.join(catalog.model_ids)}).",
            "Switch to a profile with active models (SORA_MCP_PROFILE), or point it at a catalog of your own.",
            param="model",
            code="model_retired",
        )
    if not models:
        raise _refuse(
            f"No active model in '{catalog.profile}' makes size {ask.size}.",
            "Leave size out, or pick a size list_models shows.",
            param="size",
        )
    if ask.size is not None and ask.model is not None and ask.size not in models[0].sizes:
        raise _refuse(
            f"Model '{models[0].id}' does not make size {ask.size}.",
            "Pick one of its sizes.",
            param="size",
            legal=list(models[0].sizes),
        )
    if ask.method == "extend" and (not ask.can_extend or all(m.extension is None for m in models)):
        raise _refuse(
            "No model here can be extended (the catalog gives no extension limits, or the provider cannot extend).",
            "Use method 'auto' or 'first_frame'.",
            param="method",
            code="unsupported",
        )
    if ask.first_frame and not any("first_frame" in m.frame_images for m in models):
        raise _refuse(
            "The model does not take a first-frame image.",
            "Leave first_frame out, or pick a model that takes one (list_models).",
            param="first_frame",
            code="unsupported",
        )
    if ask.last_frame and not any(m.last_frame for m in models):
        raise _refuse(
            "No model here takes a last frame.",
            "Leave last_frame out, or pick a model whose frame images include last_frame (list_models).",
            param="last_frame",
            code="unsupported",
        )
    if ask.last_frame and ask.method == "extend":
        raise _refuse(
            "An extended video cannot be given a last frame.",
            "Use method 'first_frame' (or 'auto') with last_frame, or leave last_frame out.",
            param="method",
            code="unsupported",
        )
    usable = [
        m
        for m in models
        if (not ask.first_frame or "first_frame" in m.frame_images) and (not ask.last_frame or m.last_frame)
    ]
    candidates = [c for m in usable for c in _candidates(m, ask)]
    if not candidates:
        raise _shots_do_not_fit(catalog, ask, usable)
    chosen = min(candidates, key=lambda c: c.key(ask.total_seconds))
    return _describe(chosen, ask)


def _describe(chosen: _Candidate, ask: Ask) -> LongVideoPlan:
    model, size = chosen.model, chosen.size
    audio = model.audio in ("always", "synchronized") or (model.audio_optional and ask.audio)
    prompts = _segment_prompts(ask, len(chosen.seconds))
    segments: list[PlannedSegment] = []
    start = 0
    for index, seconds in enumerate(chosen.seconds):
        if index == 0:
            continuity: Continuity = "first_frame_image" if ask.first_frame else "prompt"
        else:
            continuity = {"first_frame": "previous_last_frame", "extend": "extension", "cut": "cut"}[chosen.method]  # type: ignore[assignment]
        segments.append(
            PlannedSegment(
                index=index,
                prompt=prompts[index],
                seconds=seconds,
                starts_at=start,
                continuity=continuity,
                estimated_cost_usd=model.cost(seconds, size, audio=ask.audio and model.audio_optional),
            )
        )
        start += seconds
    total = chosen.total
    parts = " + ".join(str(s) for s in chosen.seconds)
    how = {
        "first_frame": "each next segment starts from the previous one's last frame",
        "extend": "the first segment, then extensions by the provider",
        "cut": "hard cuts (this model takes no first frame, so there is no continuity)",
    }[chosen.method]
    cost = f"${chosen.cost:.2f}" if chosen.cost is not None else "an unknown cost (no price in the catalog)"
    notes: list[str] = []
    if total != ask.total_seconds:
        notes.append(
            f"{ask.total_seconds} s cannot be made exactly from {model.id}'s legal durations at {size} "
            f"({', '.join(str(s) for s in legal_seconds(model, size))} s); the nearest is {total} s."
        )
    if ask.last_frame:
        notes.append("The last segment ends on the given last_frame image.")
    elif model.last_frame and chosen.method == "first_frame":
        notes.append(f"{model.id} also takes a last frame: pass last_frame to end the video on an image.")
    if chosen.cost is None and model.price_note:
        notes.append(model.price_note)
    minutes = round(sum(MINUTES_PER_SEGMENT + s * MINUTES_PER_VIDEO_SECOND for s in chosen.seconds), 1)
    summary = (
        f"{total} s = {parts} on {model.id} at {size} ({len(chosen.seconds)} job(s); {how}); {cost}"
        + (", with audio" if audio else ", no audio")
        + "."
    )
    return LongVideoPlan(
        model=model.id,
        size=size,
        requested_seconds=ask.total_seconds,
        total_seconds=total,
        method=chosen.method,
        audio=audio,
        segments=segments,
        estimated_cost_usd=chosen.cost,
        estimated_minutes=minutes,
        summary=summary,
        notes=notes,
    )


def _segment_prompts(ask: Ask, count: int) -> list[str]:
    """One prompt per shot; one prompt for the whole video is continued in every later segment."""
    if len(ask.shots) == count:
        return [s.prompt.strip() for s in ask.shots]
    only = ask.shots[0].prompt.strip()
    return [only] + [f"Continue seamlessly from the previous shot: {only}"] * (count - 1)
