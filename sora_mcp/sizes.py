"""Video frame sizes: strict parsing for the wire, loose parsing for what people type, nearest-legal matching.

Agents write `1280x720`, `1280×720`, `720p landscape` or `portrait`; the API takes only `WIDTHxHEIGHT`
from a closed list. Everything that needs a size goes through this module so the two never drift.

Nothing here raises anything but `SizeError` for what an agent types: zero or absurd dimensions, lone
surrogates and megabyte strings are refused with a message that quotes the input safely (`printable`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Orientation = Literal["landscape", "portrait", "square"]

_EXACT = re.compile(r"^\s*(\d{1,5})\s*[x×X*]\s*(\d{1,5})\s*$")
_TIER = re.compile(r"(?<!\d)(\d{3,4})\s*p\b")
_K_TIER = re.compile(r"(?<![\w.])([124])\s*k\b")
K_TIERS = {1: 1024, 2: 1440, 4: 2160}
"""Short sides of the 1K/2K/4K tiers as video listings use them (4K = 3840x2160)."""
SIZE_TEXT_LIMIT = 200
"""Longer size text is refused unread (the longest real spelling, '1080p landscape widescreen', is far shorter)."""
QUOTE_LIMIT = 80
"""At most this many characters of an agent's input are quoted back in a message."""
_RATIO = re.compile(r"^\s*(\d{1,2})\s*:\s*(\d{1,2})\s*$")
_RATIO_IN_TEXT = re.compile(r"(?<![\d:])(\d{1,2})\s*:\s*(\d{1,2})(?![\d:])")
_ORIENTATION_WORDS: dict[str, Orientation] = {
    "landscape": "landscape",
    "horizontal": "landscape",
    "wide": "landscape",
    "widescreen": "landscape",
    "portrait": "portrait",
    "vertical": "portrait",
    "tall": "portrait",
    "square": "square",
}


class SizeError(ValueError):
    """A size string that cannot be understood at all."""


def printable(text: str, limit: int = QUOTE_LIMIT) -> str:
    """`text` safe to quote back: lone surrogates become U+FFFD (JSON encoders refuse them), long text is cut."""
    clean = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if len(clean) > limit:
        return f"{clean[:limit]}… ({len(clean)} characters)"
    return clean


@dataclass(frozen=True, order=True)
class Size:
    """A frame size in pixels; `str(size)` is the wire form `WIDTHxHEIGHT`."""

    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def orientation(self) -> Orientation:
        if self.width > self.height:
            return "landscape"
        if self.width < self.height:
            return "portrait"
        return "square"

    @property
    def area(self) -> int:
        return self.width * self.height

    @classmethod
    def parse(cls, text: str) -> Size:
        """Parse an exact size (`1280x720`, `1280×720`, `1280 X 720`); raise `SizeError` otherwise."""
        if not isinstance(text, str):
            raise SizeError(f"a size must be text such as '1280x720', not {type(text).__name__}")
        match = _EXACT.match(text)
        if match is None:
            raise SizeError(f"'{printable(text)}' is not a size of the form WIDTHxHEIGHT, e.g. '1280x720'")
        width, height = int(match.group(1)), int(match.group(2))
        if width <= 0 or height <= 0:
            raise SizeError(f"'{printable(text)}' has a zero dimension; width and height must be positive")
        return cls(width, height)


@dataclass(frozen=True)
class SizeWish:
    """What someone asked for: an exact size, or a resolution tier, an aspect ratio and/or an orientation."""

    exact: Size | None = None
    tier: int | None = None  # the short side in pixels, e.g. 720 for "720p"
    orientation: Orientation | None = None
    ratio: tuple[int, int] | None = None  # width:height, e.g. (4, 3)

    def target(self, default: Size) -> Size | None:
        """The frame this wish describes (a tier at a ratio, 16:9 unless said), or None for orientation only."""
        if self.exact is not None:
            return self.exact
        if self.tier is None and self.ratio is None:
            return None
        short = self.tier if self.tier is not None else min(default.width, default.height)
        if self.ratio is not None:
            a, b = self.ratio
        elif self.orientation == "square":
            a, b = 1, 1
        else:
            a, b = (9, 16) if self.orientation == "portrait" else (16, 9)
        long = round(short * max(a, b) / min(a, b))
        return Size(long, short) if a >= b else Size(short, long)

    def granted_by(self, size: Size) -> bool:
        """Whether `size` is exactly what was asked: the same size, or the tier, ratio and orientation asked."""
        if self.exact is not None:
            return size == self.exact
        if self.tier is not None and min(size.width, size.height) != self.tier:
            return False
        if self.ratio is not None and abs(size.width / size.height - self.ratio[0] / self.ratio[1]) > 0.02:
            return False
        return self.orientation is None or size.orientation == self.orientation

    @property
    def descriptive(self) -> bool:
        """A tier or a ratio was asked for (an orientation alone is always met when the model has one)."""
        return self.exact is None and (self.tier is not None or self.ratio is not None)


def parse_size_wish(text: str) -> SizeWish:
    """Understand `1280x720`, `720p`, `4k`, `720p landscape`, `1080p portrait`, `1080p 4:3`, `portrait`, `16:9`."""
    if not isinstance(text, str):
        raise SizeError(f"a size must be text such as '1280x720' or '720p landscape', not {type(text).__name__}")
    if len(text) > SIZE_TEXT_LIMIT:
        raise SizeError(f"'{printable(text)}' is too long for a size (at most {SIZE_TEXT_LIMIT} characters)")
    try:
        return SizeWish(exact=Size.parse(text))
    except SizeError:
        pass
    lowered = text.strip().lower()
    whole_ratio = _RATIO.match(lowered)
    ratio_match = whole_ratio or _RATIO_IN_TEXT.search(lowered)
    ratio: tuple[int, int] | None = None
    if ratio_match is not None:
        a, b = int(ratio_match.group(1)), int(ratio_match.group(2))
        if a == 0 or b == 0:
            raise SizeError(f"'{printable(text)}' is not a usable aspect ratio")
        ratio = (a, b)
    ratio_orientation: Orientation | None = None
    if ratio is not None:
        ratio_orientation = "landscape" if ratio[0] > ratio[1] else "portrait" if ratio[0] < ratio[1] else "square"
    if whole_ratio is not None:
        return SizeWish(orientation=ratio_orientation, ratio=ratio)
    tier_match = _TIER.search(lowered)
    tier = int(tier_match.group(1)) if tier_match else None
    if tier is None:
        k_match = _K_TIER.search(lowered)
        tier = K_TIERS[int(k_match.group(1))] if k_match else None
    if tier == 0:
        raise SizeError(f"'{printable(text)}' has a zero resolution; use a tier such as '480p', '720p' or '1080p'")
    found: Orientation | None = None
    for word, value in _ORIENTATION_WORDS.items():
        if re.search(rf"\b{word}\b", lowered):
            found = value
            break
    if ratio_orientation is not None:
        found = ratio_orientation
    if tier is None and found is None:
        raise SizeError(
            f"'{printable(text)}' is not a size; use WIDTHxHEIGHT (e.g. '1280x720'), a tier with an orientation "
            "(e.g. '720p landscape'), an aspect ratio ('4:3') or an orientation ('portrait')"
        )
    return SizeWish(tier=tier, orientation=found, ratio=ratio)


def _distance(target: Size, candidate: Size) -> float:
    """Orientation first, then aspect ratio, then pixel count (all on log scales); a degenerate size is farthest."""
    if min(target.width, target.height, candidate.width, candidate.height) <= 0:
        return math.inf
    orientation_penalty = 0.0 if target.orientation == candidate.orientation else 10.0
    aspect = abs(math.log((candidate.width / candidate.height) / (target.width / target.height)))
    area = abs(math.log(candidate.area / target.area))
    return orientation_penalty + 2.0 * aspect + area


def nearest_size(wish: SizeWish, allowed: Sequence[Size], default: Size) -> Size:
    """The legal size closest to `wish`; ties go to the smaller (cheaper) size."""
    if not allowed:
        raise ValueError("no sizes to choose from")
    target = wish.target(default)
    exactly = [s for s in allowed if wish.granted_by(s)] if wish.descriptive else []
    if exactly and target is not None:
        # Sizes with exactly the tier and ratio asked for (a listing may hold several): the nearest one.
        return min(exactly, key=lambda s: (_distance(target, s), s.area))
    if target is None:
        if default.orientation == wish.orientation or wish.orientation is None:
            return default
        matching = [s for s in allowed if s.orientation == wish.orientation]
        return min(matching, key=lambda s: s.area) if matching else default
    return min(allowed, key=lambda s: (_distance(target, s), s.area))
