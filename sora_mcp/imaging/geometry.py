"""Pure arithmetic of a fit: which source region lands where, at what scale, and how far JPEG may be reduced.

Kept free of Pillow so it can be property-tested exhaustively and so a cached result can report exactly
what was done without decoding a pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sora_mcp.imaging.request import CropBox, FitMode, Padding, PixelBox
from sora_mcp.sizes import Size

DRAFT_OVERSAMPLE = 1.0
"""JPEG is DCT-decoded at the smallest 1/n scale that keeps the region at least this many times the output.

libjpeg's DCT scaling is itself a good low-pass filter, so 1.0 costs little on photographs (~43 dB PSNR
against a full decode with LANCZOS, bench/bench_fit.py) while 2.0 would halve the speed-up on a 24 MP photo.
Sharp synthetic graphics (thin lines, small text) lose more (~34 dB); those usually arrive as PNG, which is
never reduced this way.
"""

DRAFT_SCALES = (8, 4, 2, 1)


@dataclass(frozen=True)
class Geometry:
    """Where the pixels go, in upright (EXIF-applied) source coordinates."""

    source: Size
    target: Size
    region: PixelBox
    content: Size
    offset: tuple[int, int]
    padding: Padding
    scale_x: float
    scale_y: float


def crop_region(source: Size, crop: CropBox | None) -> PixelBox:
    """The crop fractions as a pixel box of the upright source (the whole image without a crop)."""
    if crop is None:
        return PixelBox(0.0, 0.0, float(source.width), float(source.height))
    return PixelBox(
        crop.left * source.width,
        crop.top * source.height,
        crop.right * source.width,
        crop.bottom * source.height,
    )


def plan_geometry(source: Size, target: Size, mode: FitMode, crop: CropBox | None) -> Geometry:
    """Compute region, content size and padding so the output is exactly `target`, whatever the input."""
    region = crop_region(source, crop)
    width, height = target.width, target.height
    offset = (0, 0)
    padding = Padding()
    if mode == "stretch":
        content = target
    elif mode == "cover":
        content = target
        if region.width * height > region.height * width:
            kept = region.height * width / height
            left = region.left + (region.width - kept) / 2
            region = PixelBox(left, region.top, left + kept, region.bottom)
        else:
            kept = region.width * height / width
            top = region.top + (region.height - kept) / 2
            region = PixelBox(region.left, top, region.right, top + kept)
    else:  # pad
        if region.width * height >= region.height * width:
            content = Size(width, _clamp(round(region.height * width / region.width), 1, height))
        else:
            content = Size(_clamp(round(region.width * height / region.height), 1, width), height)
        left, top = (width - content.width) // 2, (height - content.height) // 2
        offset = (left, top)
        padding = Padding(left, top, width - content.width - left, height - content.height - top)
    region = _clamp_box(region, source)
    return Geometry(
        source=source,
        target=target,
        region=region,
        content=content,
        offset=offset,
        padding=padding,
        scale_x=content.width / region.width,
        scale_y=content.height / region.height,
    )


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _clamp_box(box: PixelBox, source: Size) -> PixelBox:
    """Absorb floating-point overshoot (1e-13 past an edge) so Pillow never sees a box outside the image."""
    return PixelBox(
        max(0.0, box.left),
        max(0.0, box.top),
        min(float(source.width), box.right),
        min(float(source.height), box.bottom),
    )


# EXIF orientation: how the stored (raw) pixels relate to the upright picture.


def is_transposed(orientation: int) -> bool:
    """Orientations 5-8 store the picture with rows and columns swapped."""
    return orientation in (5, 6, 7, 8)


def upright_size(raw: Size, orientation: int) -> Size:
    return Size(raw.height, raw.width) if is_transposed(orientation) else raw


def raw_size(upright: Size, orientation: int) -> Size:
    return Size(upright.height, upright.width) if is_transposed(orientation) else upright


def raw_point(x: float, y: float, upright: Size, orientation: int) -> tuple[float, float]:
    """The stored-image coordinates of upright point (x, y), per the EXIF definition of each orientation."""
    w, h = upright.width, upright.height
    if orientation == 2:
        return w - x, y
    if orientation == 3:
        return w - x, h - y
    if orientation == 4:
        return x, h - y
    if orientation == 5:
        return y, x
    if orientation == 6:
        return y, w - x
    if orientation == 7:
        return h - y, w - x
    if orientation == 8:
        return h - y, x
    return x, y


def raw_box(box: PixelBox, upright: Size, orientation: int) -> PixelBox:
    """`box` (upright coordinates) in stored-image coordinates."""
    x0, y0 = raw_point(box.left, box.top, upright, orientation)
    x1, y1 = raw_point(box.right, box.bottom, upright, orientation)
    return PixelBox(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def draft_request(raw: Size, region: PixelBox, content: Size, oversample: float = DRAFT_OVERSAMPLE) -> Size:
    """The size to ask libjpeg for so that `region` (raw coordinates) still has >= oversample x `content` pixels."""
    kx = min(1.0, oversample * content.width / region.width) if region.width > 0 else 1.0
    ky = min(1.0, oversample * content.height / region.height) if region.height > 0 else 1.0
    return Size(max(1, math.ceil(raw.width * kx)), max(1, math.ceil(raw.height * ky)))


def draft_scale(raw: Size, requested: Size) -> int:
    """The 1/n scale libjpeg will decode at for `requested` (mirrors Pillow's JpegImageFile.draft)."""
    fits = min(raw.width // requested.width, raw.height // requested.height)
    return next((s for s in DRAFT_SCALES if fits >= s), 1)
