"""Turn any wish (model?, seconds?, size?, reference image?) into a verdict and the nearest legal request.

This never raises on bad input: an agent asking "can I have 10 s of 1080p on sora-2?" gets the API's own
error for each problem, the corrected request, the legal neighbours of its duration, other models that do
exactly what it asked, and the price. `create_video` uses the same check, so what validates is what runs.

Placeholders mean "not given". Under a strict schema conversion (the OpenAI Agents SDK's, for one) every
optional argument becomes required, so a model fills what it does not know with `""` (text) or `0`
(numbers). `check` reads `""`/whitespace for model, size, seconds and duration, `0` for seconds, duration,
reference_width and reference_height exactly as if the argument were absent: no model means the catalog
chooses, no duration or size means the model's default, 0x0 means no reference image. A 0-second video
never exists, so nothing is lost. Any other number is read, within limits: durations up to
`SECONDS_LIMIT` s (a longer wish gets the longest legal duration and a warning naming the limit, whether
it is 3601 or a 500-digit number) and reference dimensions from 1 to `REFERENCE_LIMIT` pixels.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, Field

from sora_mcp.api_errors import ApiError, invalid_value, reference_size_mismatch
from sora_mcp.catalog import Catalog, ModelSpec
from sora_mcp.sizes import Size, SizeError, SizeWish, nearest_size, parse_size_wish, printable

# One `\s*` per gap: two adjacent ones (as in `\s*(?:s)?\s*$`) backtrack quadratically on a long run of spaces.
_SECONDS_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:(?:s|sec|secs|second|seconds)\s*)?$", re.IGNORECASE)
_SECONDS_TEXT_LIMIT = 64
"""Longer duration text is not read at all (no spelling of a duration needs more)."""
SECONDS_LIMIT = 3600
"""The longest duration read as a number; anything longer is 'longer than any legal duration'."""
REFERENCE_LIMIT = 65535
"""The largest reference image side accepted as a number of pixels (JPEG's own limit)."""
_BIG_INT_DIGITS = 30
"""Integers with more digits are quoted back shortened (and are never converted to float or str whole)."""


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
    """Loose input: anything an agent might say about the video it wants ("" and 0 mean "not given")."""

    model: str | None = None
    seconds: int | float | str | None = None
    duration: int | float | str | None = Field(default=None, description="same as seconds, used when it is absent")
    size: str | None = None
    reference_width: int | None = None
    reference_height: int | None = None


def is_placeholder(value: object) -> bool:
    """`None`, `""` (or only spaces) and the number 0: what a strict-schema client sends for "not given"."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, bool):
        return False
    return isinstance(value, int | float) and value == 0


def given(value: object) -> bool:
    return not is_placeholder(value)


@dataclass(frozen=True)
class _Seconds:
    """A duration as read: a positive number of seconds, or why there is none."""

    value: float | None = None
    too_long: bool = False  # beyond SECONDS_LIMIT: value is None, the longest legal duration applies


def _parse_seconds(raw: int | float | str) -> _Seconds:
    """Read a duration without ever overflowing: a 500-digit integer is 'too long', never converted to float."""
    if isinstance(raw, bool):
        return _Seconds()
    if isinstance(raw, int):
        if raw <= 0:
            return _Seconds()
        return _Seconds(too_long=True) if raw > SECONDS_LIMIT else _Seconds(float(raw))
    if isinstance(raw, float):
        if not math.isfinite(raw) or raw <= 0:
            return _Seconds(too_long=raw == math.inf)
        return _Seconds(too_long=True) if raw > SECONDS_LIMIT else _Seconds(raw)
    if not isinstance(raw, str) or len(raw) > _SECONDS_TEXT_LIMIT:
        return _Seconds()
    match = _SECONDS_TEXT.match(raw)
    if match is None:
        return _Seconds()
    digits = match.group(1).split(".")[0].lstrip("0")
    if len(digits) > len(str(SECONDS_LIMIT)):  # never hand a huge digit string to float() or int()
        return _Seconds(too_long=True)
    value = float(match.group(1))
    if value <= 0:
        return _Seconds()
    return _Seconds(too_long=True) if value > SECONDS_LIMIT else _Seconds(value)


def _digits(number: int) -> int:
    """How many decimal digits `abs(number)` has, without `str()` (which refuses more than 4300 digits)."""
    number = abs(number)
    if number < 10:
        return 1
    count = int(math.log10(number)) + 1
    if 10 ** (count - 1) > number:
        count -= 1
    elif 10**count <= number:
        count += 1
    return count


def _show(raw: int | float | str) -> str:
    """How the API would quote the value back: `10`, not `10.0`; huge numbers and long text shortened."""
    if isinstance(raw, bool):
        return str(raw).lower()
    if isinstance(raw, int):
        count = _digits(raw)
        if count <= _BIG_INT_DIGITS:
            return str(raw)
        lead = abs(raw) // 10 ** (count - 12)
        return f"{'-' if raw < 0 else ''}{lead}… ({count} digits)"
    if isinstance(raw, float):
        if raw.is_integer() and abs(raw) < 10**_BIG_INT_DIGITS:
            return str(int(raw))
        return repr(raw)
    return printable(str(raw).strip())


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
    if len(name) > 200:  # no model name is that long; do not let difflib chew on it
        return None
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


def _first_given(*values: int | float | str | None, absent: Callable[[object], bool]) -> int | float | str | None:
    return next((v for v in values if not absent(v)), None)


def check(catalog: Catalog, wish: Wish, *, placeholders: bool = True) -> Verdict:
    """Validate `wish` against `catalog` and propose the nearest legal request. Never raises for bad input.

    With `placeholders` (the default) `""` and `0` mean "not given" (see the module docstring); without,
    only a missing value does, and `""` or `0` are checked as values (as `create_video` needs).
    """
    errors: list[ApiError] = []
    adjustments: list[str] = []
    warnings: list[str] = []
    absent: Callable[[object], bool] = is_placeholder if placeholders else (lambda value: value is None)

    model_name = None if absent(wish.model) else wish.model
    raw_seconds = _first_given(wish.seconds, wish.duration, absent=absent)
    size_text = None if absent(wish.size) else wish.size
    reference_width = None if absent(wish.reference_width) else wish.reference_width
    reference_height = None if absent(wish.reference_height) else wish.reference_height
    both = (wish.seconds, wish.duration)
    if both[0] is not None and both[1] is not None and not any(absent(v) for v in both) and both[0] != both[1]:
        warnings.append(f"seconds ({_show(both[0])}) and duration ({_show(both[1])}) disagree; seconds was used")

    read = _parse_seconds(raw_seconds) if raw_seconds is not None else None
    wanted_seconds = read.value if read is not None else None

    size_wish: SizeWish | None = None
    size_error: str | None = None
    if size_text is not None:
        try:
            size_wish = parse_size_wish(size_text)
        except SizeError as exc:
            size_error = str(exc)

    # 1. The model.
    model: ModelSpec
    if model_name is None or not model_name.strip():
        model = _pick_model(catalog, wanted_seconds, size_wish.exact if size_wish else None)
        adjustments.append(f"model: none given; chose '{model.id}'")
    else:
        found = catalog.find(model_name)
        if found is None:
            shown = printable(model_name)
            errors.append(invalid_value("model", shown, catalog.model_ids))
            guess = _closest_name(catalog, model_name)
            model = guess or _pick_model(catalog, wanted_seconds, size_wish.exact if size_wish else None)
            adjustments.append(f"model: '{shown}' is not offered; chose '{model.id}'")
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
    if raw_seconds is None or read is None:
        seconds = model.default_seconds
        adjustments.append(f"seconds: none given; used the default {seconds}")
    elif read.too_long:
        errors.append(invalid_value("seconds", _show(raw_seconds), model.wire_seconds))
        seconds = max(legal_seconds)
        seconds_neighbours = SecondsNeighbours(below=seconds)
        adjustments.append(f"seconds: {_show(raw_seconds)} is more than {SECONDS_LIMIT} s; nearest legal is {seconds}")
        warnings.append(
            f"seconds: durations are read up to {SECONDS_LIMIT} s and {_show(raw_seconds)} is longer, so the "
            f"longest legal duration of '{model.id}' ({seconds} s) was used"
        )
    elif wanted_seconds is None:
        errors.append(invalid_value("seconds", _show(raw_seconds), model.wire_seconds))
        seconds = model.default_seconds
        adjustments.append(f"seconds: '{_show(raw_seconds)}' is not a number of seconds; used the default {seconds}")
    elif wanted_seconds in legal_seconds:
        seconds = int(wanted_seconds)
    else:
        errors.append(invalid_value("seconds", _show(raw_seconds), model.wire_seconds))
        seconds = nearest_seconds(wanted_seconds, legal_seconds)
        seconds_neighbours = neighbours(wanted_seconds, legal_seconds)
        adjustments.append(f"seconds: {_show(raw_seconds)} is not offered by '{model.id}'; nearest legal is {seconds}")

    # 3. The size.
    legal_sizes = model.frame_sizes
    default_size = Size.parse(model.default_size)
    if size_text is None:
        size = default_size
        adjustments.append(f"size: none given; used the default {size}")
    elif size_wish is None:
        errors.append(invalid_value("size", printable(size_text.strip()), model.sizes))
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
            adjustments.append(f"size: '{printable(size_text.strip())}' means {size} on '{model.id}'")

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
    if reference_width is not None and reference_height is not None:
        out_of_range = [
            (name, value)
            for name, value in (("reference_width", reference_width), ("reference_height", reference_height))
            if not 1 <= value <= REFERENCE_LIMIT
        ]
        for name, value in out_of_range:
            errors.append(
                ApiError(
                    message=(
                        f"Invalid value for '{name}': {_show(value)}. A reference image side is 1 to "
                        f"{REFERENCE_LIMIT} pixels; 0 means no reference image."
                    ),
                    param=name,
                    code="invalid_value",
                )
            )
        if not out_of_range:
            matches = (reference_width, reference_height) == (size.width, size.height)
            fix = None
            if not matches:
                errors.append(reference_size_mismatch())
                fix = (
                    f"call fit_reference_image with size '{size}' (mode 'cover' crops to fill, 'pad' keeps the "
                    "whole picture with bars); create_video also fits it for you unless fit is 'none'"
                )
            reference = ReferenceCheck(width=reference_width, height=reference_height, matches=matches, fix=fix)
    elif (reference_width is None) != (reference_height is None):
        warnings.append("reference image: give both reference_width and reference_height to check it")

    request = LegalRequest(
        model=_canonical_name(model, model_name),
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
