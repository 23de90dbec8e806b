"""What a caller asks the fitting engine for, and what it gets back.

Validation happens here, at construction, so every entry point (tool, CLI, `create_video`) rejects a bad
crop, colour or quality with the same message before any file is touched.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from sora_mcp.imaging.errors import ImageInputError
from sora_mcp.sizes import Size

FitMode = Literal["pad", "cover", "stretch"]
ImageFormat = Literal["jpeg", "png", "webp"]

FIT_MODES: tuple[FitMode, ...] = get_args(FitMode)
IMAGE_FORMATS: tuple[ImageFormat, ...] = get_args(ImageFormat)
DEFAULT_QUALITY = 92
DEFAULT_BACKGROUND = "#000000"
MIN_CROP_FRACTION = 0.001
"""A crop must keep at least 0.1% of each dimension; thinner ones are typos (and underflow the arithmetic)."""

_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class CropBox:
    """A region of the upright image as fractions of its width and height (0..1), applied before fitting."""

    left: float = 0.0
    top: float = 0.0
    right: float = 1.0
    bottom: float = 1.0

    def __post_init__(self) -> None:
        values = {"left": self.left, "top": self.top, "right": self.right, "bottom": self.bottom}
        for name, value in values.items():
            if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
                raise ImageInputError(
                    f"crop {name} must be a number between 0 and 1, got {value!r}", param=f"crop.{name}"
                )
            if not 0.0 <= value <= 1.0:
                raise ImageInputError(
                    f"crop {name}={value} is outside 0..1; crop values are fractions of the image", param=f"crop.{name}"
                )
        if not self.left < self.right:
            raise ImageInputError(
                f"crop left={self.left} must be less than right={self.right} (0 <= left < right <= 1)", param="crop"
            )
        if not self.top < self.bottom:
            raise ImageInputError(
                f"crop top={self.top} must be less than bottom={self.bottom} (0 <= top < bottom <= 1)", param="crop"
            )
        if self.right - self.left < MIN_CROP_FRACTION or self.bottom - self.top < MIN_CROP_FRACTION:
            raise ImageInputError(
                f"crop {self.left},{self.top},{self.right},{self.bottom} keeps less than {MIN_CROP_FRACTION} "
                "of the width or height; right - left and bottom - top must each be at least that",
                param="crop",
            )

    @property
    def is_full(self) -> bool:
        return (self.left, self.top, self.right, self.bottom) == (0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True)
class PixelBox:
    """A region in pixels of the upright source image; fractional, because crops and centring are exact."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    def rounded(self, digits: int = 2) -> PixelBox:
        return PixelBox(*(round(v, digits) for v in (self.left, self.top, self.right, self.bottom)))


@dataclass(frozen=True)
class Padding:
    """Background pixels added on each side (pad mode); all zero otherwise."""

    left: int = 0
    top: int = 0
    right: int = 0
    bottom: int = 0

    @property
    def any(self) -> bool:
        return any((self.left, self.top, self.right, self.bottom))


@dataclass(frozen=True)
class FitRequest:
    """Fit an image to exactly `target` pixels.

    `format=None` keeps the input's format when the API accepts it (JPEG, PNG, WebP) and writes JPEG
    otherwise. `quality` applies to JPEG and WebP.
    """

    target: Size
    mode: FitMode = "cover"
    background: str = DEFAULT_BACKGROUND
    crop: CropBox | None = None
    format: ImageFormat | None = None
    quality: int = DEFAULT_QUALITY

    def __post_init__(self) -> None:
        if self.target.width <= 0 or self.target.height <= 0:
            raise ImageInputError(f"target size {self.target} has a zero dimension", param="size")
        if self.mode not in FIT_MODES:
            raise ImageInputError(f"mode '{self.mode}' is not one of {', '.join(FIT_MODES)}", param="mode")
        if not _HEX_COLOUR.match(self.background):
            raise ImageInputError(
                f"background '{self.background}' is not a colour of the form #rrggbb, e.g. '#000000' (black)",
                param="background",
            )
        if self.format is not None and self.format not in IMAGE_FORMATS:
            raise ImageInputError(f"format '{self.format}' is not one of {', '.join(IMAGE_FORMATS)}", param="format")
        if isinstance(self.quality, bool) or not isinstance(self.quality, int) or not 1 <= self.quality <= 100:
            raise ImageInputError(
                f"quality {self.quality!r} must be a whole number from 1 to 100 (default 92)", param="quality"
            )

    @property
    def effective_crop(self) -> CropBox | None:
        """The crop, or None when it keeps the whole image (so equivalent requests share one output)."""
        return None if self.crop is None or self.crop.is_full else self.crop

    @property
    def background_rgb(self) -> tuple[int, int, int]:
        value = int(self.background[1:], 16)
        return (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF


@dataclass(frozen=True)
class FitOutcome:
    """What `fit_image` produced and how; every field is derivable from the input's header and the request."""

    path: Path
    width: int
    height: int
    format: ImageFormat
    bytes: int
    mode: FitMode
    passed_through: bool
    """The input already was a legal frame: its bytes were copied unchanged."""
    reused: bool
    """An identical earlier request had already written `path`; no pixels were processed."""
    source_format: str
    source_size: Size
    """Upright size (after EXIF orientation), in pixels."""
    orientation: int
    """EXIF orientation tag applied (1 = none)."""
    crop_box: PixelBox
    """Region of the upright source that fills the content area."""
    content_size: Size
    """Size the region was resampled to: the target, minus padding in pad mode."""
    padding: Padding
    scale_x: float
    scale_y: float
    decode_scale: int
    """1, 2, 4 or 8: JPEG decoded at 1/n scale (libjpeg DCT scaling) before the final resampling."""
    steps: tuple[str, ...] = field(default=())
    """Human-readable list of what was done, in order."""

    @property
    def size(self) -> Size:
        return Size(self.width, self.height)
