"""Turn any wish (model?, seconds?, size?, audio?, seed?, frames?) into a verdict and the nearest legal request.

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

Beyond (seconds, size) a model may tie durations to sizes (Veo 3.1: 1080p and 4K only at 8 s), take audio
on request, a seed or a last frame. A wish that names a size keeps it and moves the duration to the
nearest one legal at that size; a wish without a size keeps its duration and moves the size. `audio: false`,
`seed: 0` and `last_frame: false` are placeholders too; only the text wish ("without audio", "silent")
asks for silence.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, Field

from sora_mcp.api_errors import ApiError, invalid_value, reference_size_mismatch
from sora_mcp.catalog import Catalog, DurationParam, ModelSpec
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
SEED_MAX = 2**31 - 1
WISH_TEXT_LIMIT = 300
"""Longer free-text wishes are not read (no description of a video request needs more)."""
MAX_ALTERNATIVES = 6
_WISH_SECONDS = re.compile(r"(?<![\d.x×])(\d{1,4}(?:\.\d+)?)\s*(?:s|sec|secs|second|seconds)\b")
_WISH_EXACT = re.compile(r"(?<!\d)(\d{2,5})\s*[x×]\s*(\d{2,5})(?!\d)")
_WISH_SEED = re.compile(r"\bseed\s*(?:=|:|of)?\s*(\d{1,12})\b")
_SILENT = re.compile(r"\b(?:no|without|w/o)\s+(?:audio|sound)\b|\bsilent\b|\bmuted?\b")
_AUDIO = re.compile(r"\b(?:audio|sound|soundtrack|music|dialogue)\b")
_LAST_FRAME = re.compile(r"\b(?:last|end|final|ending)\s*(?:frame|image)\b|\bfirst\s+and\s+last\b")
_FIRST_FRAME = re.compile(r"\b(?:first|start|starting)\s*(?:frame|image)\b|\bimage[- ]to[- ]video\b")


class LegalRequest(BaseModel):
    """A request the catalog accepts, with `seconds` both as a number and in the provider's wire type."""

    model: str
    seconds: int
    size: str
    wire_seconds: str | int = Field(description="seconds exactly as the provider wants it on the wire")
    estimated_cost_usd: float | None = None
    audio: bool | None = Field(default=None, description="pass as video.audio (models with optional audio only)")
    seed: int | None = Field(default=None, description="pass as video.seed (models that take a seed only)")
    last_frame: bool | None = Field(
        default=None, description="true: the model takes video.last_frame (a file path or data: URL)"
    )
    duration_param: DurationParam = Field(default="seconds", description="the length field's name on the wire")
    resolution: str | None = Field(default=None, description="how the size goes on the wire, if not as size")
    aspect_ratio: str | None = None


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
    audio: bool | None = Field(default=None, description="true: with audio; false or absent: no preference")
    seed: int | None = Field(default=None, description="a seed to send; 0 or absent: none")
    last_frame: bool | None = Field(default=None, description="true: the video should end on a given frame")
    text: str | None = Field(
        default=None, description="free text such as '10 s vertical 1080p with audio, first and last frame'"
    )


@dataclass(frozen=True)
class _TextWish:
    """What a free-text wish says; each part None when it says nothing about it."""

    seconds: float | None = None
    size: SizeWish | None = None
    audio: bool | None = None
    seed: int | None = None
    last_frame: bool = False
    first_frame: bool = False


def _read_text(text: str) -> _TextWish:
    if len(text) > WISH_TEXT_LIMIT:
        return _TextWish()
    lowered = text.lower()
    seconds_match = _WISH_SECONDS.search(lowered)
    exact = _WISH_EXACT.search(lowered)
    size: SizeWish | None = None
    try:
        size = parse_size_wish(f"{exact.group(1)}x{exact.group(2)}") if exact else parse_size_wish(lowered)
    except SizeError:
        size = None
    audio = False if _SILENT.search(lowered) else True if _AUDIO.search(lowered) else None
    seed_match = _WISH_SEED.search(lowered)
    seed = int(seed_match.group(1)) if seed_match else None
    last = _LAST_FRAME.search(lowered) is not None
    return _TextWish(
        seconds=float(seconds_match.group(1)) if seconds_match else None,
        size=size,
        audio=audio,
        seed=seed,
        last_frame=last,
        first_frame=last or _FIRST_FRAME.search(lowered) is not None,
    )


@dataclass(frozen=True)
class _Options:
    """The per-model options a wish asks for."""

    audio: bool | None = None  # True: with audio; False: explicitly silent; None: no preference
    seed: int | None = None
    last_frame: bool = False
    first_frame: bool = False

    def problems(self, model: ModelSpec) -> list[str]:
        """What `model` cannot grant of these options, as short phrases."""
        missing = []
        if self.audio is True and model.audio == "none":
            missing.append("audio")
        if self.audio is False and model.audio in ("always", "synchronized"):
            missing.append("silence")
        if self.seed is not None and not model.seed:
            missing.append("a seed")
        if self.last_frame and not model.last_frame:
            missing.append("a last frame")
        elif self.first_frame and "first_frame" not in model.frame_images:
            missing.append("a first frame")
        return missing

    def granted(self) -> list[str]:
        parts = []
        if self.audio is True:
            parts.append("audio")
        if self.audio is False:
            parts.append("silence")
        if self.seed is not None:
            parts.append("a seed")
        if self.last_frame:
            parts.append("first and last frame")
        elif self.first_frame:
            parts.append("a first frame")
        return parts


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


def _grant(
    model: ModelSpec, seconds: float | None, size: SizeWish | None, options: _Options, near: Size | None = None
) -> tuple[int, str] | None:
    """A legal (seconds, size) of `model` that is exactly the wish with its options, or None.

    Without a size wish the size is the one nearest `near` (else the model's default).
    """
    if options.problems(model):
        return None
    if seconds is not None and seconds not in model.seconds:
        return None
    exact = size is not None and (size.exact is not None or size.descriptive)
    default = Size.parse(model.default_size)
    for secs, sizes in model.rectangles():
        if seconds is not None and seconds not in secs:
            continue
        frames = [Size.parse(z) for z in sizes]
        if exact and size is not None:
            frames = [f for f in frames if size.granted_by(f)]
        if not frames:
            continue
        chosen = (
            int(seconds)
            if seconds is not None
            else (model.default_seconds if model.default_seconds in secs else secs[0])
        )
        wish = size if size is not None else SizeWish(exact=near or default)
        return chosen, str(nearest_size(wish, frames, default if str(default) in sizes else frames[0]))
    return None


def _pick_model(
    catalog: Catalog, seconds: float | None, size: SizeWish | None, options: _Options | None = None
) -> ModelSpec:
    """No model named: the first usable model that grants the wish exactly, else the first usable one."""
    usable = [m for m in catalog if _usable(m)] or list(catalog)
    wanted = options or _Options()
    for model in usable:
        if _grant(model, seconds, size, wanted) is not None:
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


def _seed_value(raw: int | None, absent: Callable[[object], bool]) -> int | None:
    return None if raw is None or absent(raw) else raw


def check(catalog: Catalog, wish: Wish, *, placeholders: bool = True) -> Verdict:
    """Validate `wish` against `catalog` and propose the nearest legal request. Never raises for bad input.

    With `placeholders` (the default) `""` and `0` mean "not given" (see the module docstring); without,
    only a missing value does, and `""` or `0` are checked as values (as `create_video` needs).
    """
    errors: list[ApiError] = []
    adjustments: list[str] = []
    warnings: list[str] = []
    absent: Callable[[object], bool] = is_placeholder if placeholders else (lambda value: value is None)

    text = _read_text(wish.text) if wish.text is not None and not is_placeholder(wish.text) else _TextWish()
    model_name = None if absent(wish.model) else wish.model
    raw_seconds = _first_given(wish.seconds, wish.duration, absent=absent)
    size_text = None if absent(wish.size) else wish.size
    reference_width = None if absent(wish.reference_width) else wish.reference_width
    reference_height = None if absent(wish.reference_height) else wish.reference_height
    both = (wish.seconds, wish.duration)
    if both[0] is not None and both[1] is not None and not any(absent(v) for v in both) and both[0] != both[1]:
        warnings.append(f"seconds ({_show(both[0])}) and duration ({_show(both[1])}) disagree; seconds was used")

    read = _parse_seconds(raw_seconds) if raw_seconds is not None else None
    if raw_seconds is None and text.seconds is not None:
        raw_seconds = int(text.seconds) if text.seconds.is_integer() else text.seconds
        read = _parse_seconds(raw_seconds)
    wanted_seconds = read.value if read is not None else None

    size_wish: SizeWish | None = None
    size_error: str | None = None
    if size_text is not None:
        try:
            size_wish = parse_size_wish(size_text)
        except SizeError as exc:
            size_error = str(exc)
    elif text.size is not None:
        size_wish = text.size
        size_text = str(wish.text).strip()

    seed = _seed_value(wish.seed, is_placeholder if placeholders else (lambda v: v is None))
    if seed is None:
        seed = text.seed
    options = _Options(
        audio=True if wish.audio is True else text.audio,
        seed=seed,
        last_frame=bool(wish.last_frame) or text.last_frame,
        first_frame=text.first_frame or (reference_width is not None and reference_height is not None),
    )
    if seed is not None and not 0 <= seed <= SEED_MAX:
        errors.append(
            ApiError(
                message=f"Invalid value for 'seed': {_show(seed)}. A seed is 0 to {SEED_MAX}.",
                param="seed",
                code="invalid_value",
            )
        )
        options = _Options(options.audio, None, options.last_frame, options.first_frame)

    # 1. The model.
    model: ModelSpec
    if model_name is None or not model_name.strip():
        model = _pick_model(catalog, wanted_seconds, size_wish, options)
        adjustments.append(f"model: none given; chose '{model.id}'")
    else:
        found = catalog.find(model_name)
        if found is None:
            shown = printable(model_name)
            errors.append(invalid_value("model", shown, catalog.model_ids))
            listed = catalog.find_listed(model_name)
            if listed is not None:
                warnings.append(f"'{listed.id}' is listed by the provider but cannot be requested: {listed.reason}")
            guess = _closest_name(catalog, model_name)
            model = guess or _pick_model(catalog, wanted_seconds, size_wish, options)
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

    # 2. The size, when one was asked for: it is kept, and the duration follows it. (Its errors and
    #    adjustments are reported after the duration's, as the API lists them.)
    size_errors: list[ApiError] = []
    size_adjustments: list[str] = []
    default_size = Size.parse(model.default_size)
    size_kept = size_wish is not None
    if size_text is None:
        size = default_size
    elif size_wish is None:
        size_errors.append(invalid_value("size", printable(size_text.strip()), model.sizes))
        size = default_size
        size_adjustments.append(f"size: {size_error}; used the default {size}")
    elif size_wish.exact is not None and str(size_wish.exact) in model.sizes:
        size = size_wish.exact
    else:
        size = nearest_size(size_wish, model.frame_sizes, default_size)
        if size_wish.exact is not None:
            size_errors.append(invalid_value("size", str(size_wish.exact), model.sizes))
            size_adjustments.append(f"size: {size_wish.exact} is not offered by '{model.id}'; nearest legal is {size}")
        else:
            size_adjustments.append(f"size: '{printable(size_text.strip())}' means {size} on '{model.id}'")
            if size_wish.descriptive and not size_wish.granted_by(size):
                warnings.append(
                    f"size: '{model.id}' has no size that is exactly '{printable(size_text.strip(), 40)}'; "
                    f"the nearest is {size}"
                )

    # 3. The duration: any legal one of the model, or (when a size was asked for) one legal at that size.
    at_size = tuple(s for s in model.seconds if model.allows(s, str(size))) if size_kept else model.seconds
    legal_seconds = at_size or model.seconds
    shown_legal = tuple(str(s) for s in legal_seconds)
    where = f" at {size}" if legal_seconds != model.seconds else ""
    seconds_neighbours: SecondsNeighbours | None = None
    if raw_seconds is None or read is None:
        seconds = nearest_seconds(model.default_seconds, legal_seconds)
        adjustments.append(
            f"seconds: none given; used the default {seconds}"
            if seconds == model.default_seconds
            else f"seconds: none given; '{model.id}' makes {size} only at {'/'.join(shown_legal)} s, so {seconds}"
        )
    elif read.too_long:
        errors.append(invalid_value("seconds", _show(raw_seconds), shown_legal))
        seconds = max(legal_seconds)
        seconds_neighbours = SecondsNeighbours(below=seconds)
        adjustments.append(f"seconds: {_show(raw_seconds)} is more than {SECONDS_LIMIT} s; nearest legal is {seconds}")
        warnings.append(
            f"seconds: durations are read up to {SECONDS_LIMIT} s and {_show(raw_seconds)} is longer, so the "
            f"longest legal duration of '{model.id}'{where} ({seconds} s) was used"
        )
    elif wanted_seconds is None:
        errors.append(invalid_value("seconds", _show(raw_seconds), shown_legal))
        seconds = nearest_seconds(model.default_seconds, legal_seconds)
        adjustments.append(f"seconds: '{_show(raw_seconds)}' is not a number of seconds; used the default {seconds}")
    elif wanted_seconds in legal_seconds:
        seconds = int(wanted_seconds)
    else:
        errors.append(invalid_value("seconds", _show(raw_seconds), shown_legal))
        seconds = nearest_seconds(wanted_seconds, legal_seconds)
        seconds_neighbours = neighbours(wanted_seconds, legal_seconds)
        if wanted_seconds in model.seconds:
            adjustments.append(
                f"seconds: '{model.id}' makes {size} only at {'/'.join(shown_legal)} s; nearest legal is {seconds}"
            )
        else:
            adjustments.append(
                f"seconds: {_show(raw_seconds)} is not offered by '{model.id}'{where}; nearest legal is {seconds}"
            )

    errors.extend(size_errors)
    adjustments.extend(size_adjustments)

    # 3b. No size asked for: the default size, or the size nearest it that the duration allows.
    if not size_kept and not model.allows(seconds, str(size)):
        fitting = [Size.parse(z) for z in model.sizes if model.allows(seconds, z)]
        size = nearest_size(SizeWish(exact=size), fitting, fitting[0])
        adjustments.append(f"size: '{model.id}' makes {seconds} s only at {', '.join(map(str, fitting))}; chose {size}")
    elif size_text is None:
        adjustments.append(f"size: none given; used the default {size}")

    # 4. The options.
    request_audio: bool | None = None
    if model.audio_optional:
        request_audio = options.audio is True
    for missing in options.problems(model):
        errors.append(_unsupported(model, missing))
    request_seed = options.seed if model.seed else None
    request_last = True if options.last_frame and model.last_frame else None

    # 5. Other models that grant the wish exactly.
    alternatives: list[Alternative] = []
    wanted_exact_size = size_wish.exact if size_wish is not None else None
    seconds_missed = wanted_seconds is not None and (wanted_seconds not in model.seconds or seconds != wanted_seconds)
    size_missed = size_wish is not None and (
        (wanted_exact_size is not None and str(wanted_exact_size) not in model.sizes)
        or (size_wish.descriptive and not size_wish.granted_by(size))
    )
    if seconds_missed or size_missed or options.problems(model):
        for other in catalog:
            if other.id == model.id or not _usable(other):
                continue
            granted = _grant(other, wanted_seconds, size_wish, options, near=size)
            if granted is None:
                continue
            alt_seconds, alt_size = granted
            said = []
            if wanted_seconds is not None:
                said.append(f"{alt_seconds} s")
            if size_wish is not None and (wanted_exact_size is not None or size_wish.descriptive):
                said.append(alt_size)
            phrase = ", ".join([" at ".join(said)] * bool(said) + options.granted())
            alternatives.append(
                Alternative(
                    model=other.id,
                    seconds=alt_seconds,
                    size=alt_size,
                    estimated_cost_usd=other.cost(alt_seconds, alt_size, audio=options.audio is True),
                    reason=f"'{other.id}' offers {phrase} exactly",
                )
            )
            if len(alternatives) >= MAX_ALTERNATIVES:
                break

    # 6. The reference image.
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

    frame = model.frame(str(size))
    request = LegalRequest(
        model=_canonical_name(model, model_name),
        seconds=seconds,
        size=str(size),
        wire_seconds=wire_value(model, seconds),
        estimated_cost_usd=model.cost(seconds, str(size), audio=bool(request_audio)),
        audio=request_audio,
        seed=request_seed,
        last_frame=request_last,
        duration_param=model.duration_param,
        resolution=frame.resolution if frame else None,
        aspect_ratio=frame.aspect_ratio if frame else None,
    )
    if request.estimated_cost_usd is None:
        note = f" ({model.price_note})" if model.price_note else ""
        warnings.append(f"the catalog has no price for '{model.id}' at {size}; the cost is unknown{note}")
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


def _unsupported(model: ModelSpec, missing: str) -> ApiError:
    """The error for an option `model` cannot grant, in the API's 'Unsupported parameter' wording."""
    param, why = {
        "audio": ("audio", f"'{model.id}' makes no audio"),
        "silence": ("audio", f"'{model.id}' always makes audio; it cannot be turned off"),
        "a seed": ("seed", f"'{model.id}' takes no seed"),
        "a last frame": ("last_frame", f"'{model.id}' takes no last frame"),
        "a first frame": ("reference_image", f"'{model.id}' takes no reference image"),
    }[missing]
    return ApiError(
        message=f"Unsupported parameter: '{param}' is not supported with this model ({why}).",
        param=param,
        code="unsupported_parameter",
    )


def _video_argument(request: LegalRequest) -> str:
    parts = [f"model: '{request.model}'", f"seconds: '{request.seconds}'", f"size: '{request.size}'"]
    if request.audio:
        parts.append("audio: true")
    if request.seed is not None:
        parts.append(f"seed: {request.seed}")
    if request.last_frame:
        parts.append("last_frame: '<path or data: URL>'")
    return "{" + ", ".join(parts) + "}"


def summarize(verdict: Verdict) -> str:
    """One or two lines an agent can act on without parsing the structured content."""
    request = verdict.request
    if verdict.valid and request is not None:
        cost = f", about ${request.estimated_cost_usd:.2f}" if request.estimated_cost_usd is not None else ""
        return (
            f"Valid: {request.model}, {request.seconds} s, {request.size}{cost}. "
            f"Pass video={_video_argument(request)} to create_video."
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
