"""Opening images safely and decoding only what the output needs.

Opening reads the header only; limits are checked there, before a pixel is decoded. Decoding asks libjpeg
for a 1/2, 1/4 or 1/8 scale image (DCT scaling: most of a 96 MP photo is never reconstructed), resamples
just the region that is used, and applies the EXIF orientation to the small result rather than to the
full image.
"""

from __future__ import annotations

import functools
import io
import logging
import math
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, PngImagePlugin, UnidentifiedImageError

from sora_mcp.imaging.color import (
    ProfileInfo,
    WorkingMode,
    inspect_profile,
    level_factor,
    to_working_mode,
    working_mode,
)
from sora_mcp.imaging.errors import ImageInputError
from sora_mcp.imaging.geometry import Geometry, draft_request, draft_scale, is_transposed, raw_box, upright_size
from sora_mcp.imaging.request import PixelBox
from sora_mcp.sizes import Size

MAX_SIDE = 65_535
"""Longest accepted side in pixels (JPEG's own maximum); anything longer is a forged header."""
MAX_PIXELS_REDUCIBLE = 250_000_000
"""JPEG is decoded at up to 1/8 scale, so even a 200 MP phone photo costs a few MB."""
MAX_PIXELS = 100_000_000
"""Other formats are decoded in full: the decompression-bomb limit in pixels (MAX_DECODE_BYTES also applies)."""
MAX_DECODE_BYTES = 384 * 1024 * 1024
"""Memory one image may take while it is decoded: the frame as the decoder holds it (by mode and bit depth),
the decoder's own copies, a progressive JPEG's coefficients; for JPEG at the 1/n scale it is decoded at.

Pixels alone do not bound memory: a 10000x10000 16-bit grey PNG is 220 KB on disk and 191 MB decoded, as
RGBA 381 MB, as WebP (whose decoder holds four copies) 1.5 GB. 384 MB admits 100 MP PNGs of any kind, a
24 MP WebP or an 88 MP progressive JPEG. Everything after the decode (conversion, premultiplied alpha,
reduction) runs in strips of a few MB.
"""
DECODE_POOL_BYTES = 512 * 1024 * 1024
"""Decode memory all concurrent fits in one process may hold together: a fit waits until its share is free."""
MAX_CONCURRENT_DECODES = 2
"""Images decoded at once in one process, however small: the CPU-bound part gains nothing from more."""
STRIP_BYTES = 4 * 1024 * 1024
"""Working-mode bytes converted at a time while the decoded frame is reduced."""


class DecodePool:
    """Admits a decode when both a slot and its bytes are free, so concurrent fits cannot add up unbounded.

    A decode alone is always admitted (the per-image budget keeps it within MAX_DECODE_BYTES), so one larger
    than what is left waits for the others instead of being refused.
    """

    def __init__(self, capacity: int = DECODE_POOL_BYTES, slots: int = MAX_CONCURRENT_DECODES) -> None:
        self.capacity = capacity
        self.slots = slots
        self._changed = threading.Condition()
        self._used = 0
        self._running = 0

    @contextmanager
    def reserve(self, size: int) -> Iterator[None]:
        with self._changed:
            while self._running >= self.slots or (self._running and self._used + size > self.capacity):
                logger.debug("decode of %d bytes waits: %d running, %d bytes in use", size, self._running, self._used)
                self._changed.wait()
            self._running += 1
            self._used += size
        try:
            yield
        finally:
            with self._changed:
                self._running -= 1
                self._used -= size
                self._changed.notify_all()


_pool = DecodePool()

logger = logging.getLogger(__name__)

_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
"""How Pillow stores a pixel of each mode; every other mode (RGB included) takes 4 bytes."""
DECODER_COPIES = {"WEBP": 4, "AVIF": 4}
"""Decoders that build the frame in buffers of their own and copy it into the image: a 25 MP WebP peaks at
382 MB while it loads (measured, Pillow 13), 4 frames' worth. AVIF's decoder works the same way."""

# Pillow's own bomb check (a warning above the limit, an error above twice the limit) runs while the header is
# read, before ours can; align it with our largest limit so our clearer message is the one that applies.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS_REDUCIBLE

WANTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "AVIF")
"""Pillow decoders tried, in this order (JPEG also yields MPO); every other plugin's parser stays out of reach."""
REDUCIBLE_FORMATS = ("JPEG", "MPO")
REDUCING_GAP = 1.0
"""Integer box reduction (`Image.reduce`) down to < 2x the output before LANCZOS: ~5x faster on large PNGs."""

FORMAT_LABELS = {"JPEG": "JPEG", "MPO": "JPEG (MPO)", "PNG": "PNG", "WEBP": "WebP", "GIF": "GIF", "BMP": "BMP"}
READABLE_TEXT = "JPEG, PNG, WebP, GIF, BMP, TIFF or AVIF"

ORIENTATION_STEPS = {
    2: "mirrored left-right",
    3: "rotated 180°",
    4: "mirrored top-bottom",
    5: "mirrored along the main diagonal",
    6: "rotated 90° clockwise",
    7: "mirrored along the anti-diagonal",
    8: "rotated 90° counter-clockwise",
}
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_ORIENTATION = 0x0112


@functools.cache
def readable_formats() -> tuple[str, ...]:
    """The wanted formats this Pillow build can decode (AVIF and WebP are optional in Pillow builds)."""
    Image.init()
    return tuple(f for f in WANTED_FORMATS if f in Image.OPEN)


@dataclass(frozen=True)
class Probe:
    """Everything known from the header: enough to plan, name and describe a fit without decoding."""

    format: str
    raw: Size
    orientation: int
    mode: str
    has_transparency: bool
    animated: bool
    icc: bytes | None
    profile: ProfileInfo
    coefficient_bytes: int = 0
    """A progressive JPEG's full-size DCT coefficient buffers (2 bytes each), needed at any decode scale."""

    @property
    def upright(self) -> Size:
        return upright_size(self.raw, self.orientation)

    @property
    def reducible(self) -> bool:
        return self.format in REDUCIBLE_FORMATS

    @property
    def working_mode(self) -> WorkingMode:
        return working_mode(self.mode, self.has_transparency)

    @property
    def label(self) -> str:
        return FORMAT_LABELS.get(self.format, self.format)


@contextmanager
def open_image(source: Path | bytes, name: str) -> Iterator[tuple[Image.Image, Probe]]:
    """Open `source` (header only), enforce the limits and yield it with its probe; `name` is for messages."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else None
    try:
        im = Image.open(stream if stream is not None else source, formats=readable_formats())
    except Image.DecompressionBombError as exc:
        raise ImageInputError(_bomb_message(name, str(exc))) from None
    except UnidentifiedImageError:
        raise ImageInputError(_unidentified_message(name, _head(source))) from None
    except (OSError, SyntaxError, ValueError, struct.error, EOFError, zlib.error) as exc:
        raise ImageInputError(f"{name} cannot be read: {_reason(exc)}") from None
    with im:
        probe = _probe(im, name)
        yield im, probe


def _probe(im: Image.Image, name: str) -> Probe:
    width, height = im.size
    label = FORMAT_LABELS.get(im.format or "", im.format or "image")
    if width <= 0 or height <= 0:
        raise ImageInputError(f"{name} is a {label} of {width}x{height} pixels: zero width or height")
    if width > MAX_SIDE or height > MAX_SIDE:
        raise ImageInputError(
            f"{name} claims {width}x{height} pixels; sides longer than {MAX_SIDE} pixels are not accepted"
        )
    fmt = im.format or ""
    limit = MAX_PIXELS_REDUCIBLE if fmt in REDUCIBLE_FORMATS else MAX_PIXELS
    if width * height > limit:
        raise ImageInputError(
            f"{name} is {width}x{height} = {width * height / 1e6:.0f} MP; the limit for {label} is "
            f"{limit / 1e6:.0f} MP (decompression-bomb protection). Downscale it first."
        )
    try:
        orientation = int(_exif(im).get(_EXIF_ORIENTATION, 1))
    except (OSError, SyntaxError, ValueError, TypeError, struct.error):
        orientation = 1  # unreadable EXIF: show the pixels as stored, like every viewer does
    if orientation not in range(1, 9):
        orientation = 1
    icc = im.info.get("icc_profile")
    icc_bytes = icc if isinstance(icc, bytes) and icc else None
    has_transparency = im.mode in ("LA", "La", "RGBA", "RGBa", "PA") or (im.mode == "P" and im.has_transparency_data)
    mode = working_mode(im.mode, has_transparency)
    return Probe(
        format=fmt,
        raw=Size(width, height),
        orientation=orientation,
        mode=im.mode,
        has_transparency=has_transparency,
        animated=bool(getattr(im, "is_animated", False)) and fmt != "MPO",  # MPO: primary image + depth/stereo
        icc=icc_bytes,
        profile=inspect_profile(icc_bytes, mode),
        coefficient_bytes=_coefficient_bytes(im) if fmt in REDUCIBLE_FORMATS else 0,
    )


def _exif(im: Image.Image) -> Image.Exif:
    """The EXIF read from the header: Pillow's PNG reader decodes every pixel to look for an eXIf chunk after the
    image data, which would bypass the memory budget (and the decode slots), so only one before it counts."""
    if im.format == "PNG" and "exif" not in im.info:
        return Image.Exif()
    return im.getexif()


def _coefficient_bytes(im: Image.Image) -> int:
    """libjpeg buffers every coefficient of a progressive JPEG (per component, at its sampling), 2 bytes each."""
    if not (im.info.get("progressive") or im.info.get("progression")):
        return 0
    layers = getattr(im, "layer", None) or [("Y", 1, 1, 0)] * len(im.getbands())
    h_max = max(layer[1] for layer in layers) or 1
    v_max = max(layer[2] for layer in layers) or 1
    total = 0
    for _, h, v, _ in layers:
        columns = -(-im.width * h // h_max // 8) * 8
        rows = -(-im.height * v // v_max // 8) * 8
        total += columns * rows * 2
    return total


def planned_decode_scale(probe: Probe, geometry: Geometry) -> int:
    """1/n scale the JPEG will be decoded at (1 for other formats): known before decoding."""
    if not probe.reducible:
        return 1
    region, content = _raw_region(probe, geometry)
    return draft_scale(probe.raw, draft_request(probe.raw, region, content))


def decode_bytes(probe: Probe, scale: int) -> int:
    """Memory the decode of `probe` at 1/`scale` takes, from its header: frame, decoder copies, coefficients."""
    width, height = -(-probe.raw.width // scale), -(-probe.raw.height // scale)
    frame = width * height * _BYTES_PER_PIXEL.get(probe.mode, 4) * DECODER_COPIES.get(probe.format, 1)
    return frame + probe.coefficient_bytes


def check_decode_budget(probe: Probe, scale: int, name: str, budget: int = MAX_DECODE_BYTES) -> None:
    """Refuse, before a pixel is decoded, an image whose decode would take more than `budget` bytes."""
    need = decode_bytes(probe, scale)
    if need <= budget:
        return
    raw = probe.raw
    pixels = raw.width * raw.height
    shrink = math.sqrt(budget / need)
    fits = Size(max(1, int(raw.width * shrink)), max(1, int(raw.height * shrink)))
    per_pixel = need / pixels
    if probe.coefficient_bytes:
        why = f"a progressive JPEG holds all its coefficients, about {per_pixel:.0f} bytes per pixel, at any scale"
        fix = f"Save it as a baseline (non-progressive) JPEG, or downscale it to at most {fits}, first"
    else:
        why = f"about {per_pixel:.0f} bytes per pixel"
        fix = f"Downscale it to at most {fits} first (or save it as an 8-bit JPEG)"
    raise ImageInputError(
        f"{name} is a {raw.width}x{raw.height} ({pixels / 1e6:.0f} MP) {_depth(probe)} {probe.label}: decoding it "
        f"takes {_mb(need)} ({why}), more than the {_mb(budget)} one image may use (about "
        f"{budget / per_pixel / 1e6:.0f} MP of this kind). "
        f"{fix}"
    )


def _depth(probe: Probe) -> str:
    mode = probe.mode
    if mode.startswith("I;16"):
        return "16-bit greyscale"
    return {
        "1": "1-bit",
        "L": "greyscale",
        "LA": "greyscale with alpha",
        "P": "palette",
        "PA": "palette with alpha",
        "RGB": "RGB",
        "RGBA": "RGBA",
        "CMYK": "CMYK",
        "I": "32-bit greyscale",
        "F": "floating-point greyscale",
    }.get(mode, mode)


def _mb(size: float) -> str:
    return f"{size / (1024 * 1024):.0f} MB"


def decode_slot(size: int) -> AbstractContextManager[None]:
    """Hold a share of the process's decode pool (a slot and `size` bytes) while a frame is decoded and reduced."""
    return _pool.reserve(size)


def _raw_region(probe: Probe, geometry: Geometry) -> tuple[PixelBox, Size]:
    region = raw_box(geometry.region, probe.upright, probe.orientation)
    content = geometry.content
    if is_transposed(probe.orientation):
        content = Size(content.height, content.width)
    return region, content


def decode_region(im: Image.Image, probe: Probe, geometry: Geometry, name: str) -> tuple[Image.Image, int]:
    """The used region, resampled to `geometry.content` and upright, in the working mode; and the 1/n scale.

    Only the decoder's own frame is full size: conversion to the working mode (16-bit to 8, palette to RGB,
    premultiplied alpha) and the integer reduction run strip by strip, so they add a few MB, not 2-4 frames.
    """
    region, content = _raw_region(probe, geometry)
    scale = 1
    if probe.reducible:
        requested = draft_request(probe.raw, region, content)
        if requested != probe.raw:
            drafted = im.draft(im.mode, (requested.width, requested.height))
            if drafted is not None:
                scale = max(1, round(probe.raw.width / drafted[1][2]))
    try:
        im.load()
    except MemoryError:
        raise ImageInputError(
            f"{name} could not be decoded: the server ran out of memory; downscale the image first"
        ) from None
    except (OSError, SyntaxError, ValueError, struct.error, EOFError, zlib.error) as exc:
        raise ImageInputError(f"{name} could not be decoded: {_reason(exc)}") from None
    factor = level_factor(im)
    box = (region.left / scale, region.top / scale, region.right / scale, region.bottom / scale)
    box = (box[0], box[1], min(box[2], float(im.width)), min(box[3], float(im.height)))
    size = (content.width, content.height)
    if all(float(v).is_integer() for v in box) and (box[2] - box[0], box[3] - box[1]) == size:
        out = to_working_mode(im.crop(box), probe.has_transparency, factor)  # same pixel grid: no resampling
    else:
        out = _resample(im, box, size, probe.has_transparency, factor)
    transpose = _TRANSPOSE.get(probe.orientation)
    return (out.transpose(transpose) if transpose is not None else out), scale


_PREMULTIPLIED = {"RGBA": "RGBa", "LA": "La"}
_LANCZOS_SUPPORT = 3.0


def _resample(
    im: Image.Image,
    box: tuple[float, float, float, float],
    size: tuple[int, int],
    alpha: bool,
    factor: float,
    strip_bytes: int = STRIP_BYTES,
) -> Image.Image:
    """What `to_working_mode(im).resize(size, LANCZOS, box=box, reducing_gap=REDUCING_GAP)` gives, in strips.

    A frame already in its working mode (RGB, L, CMYK: most JPEGs) goes straight to Pillow, which reduces only
    the box. Otherwise Pillow would convert (and premultiply alpha) at full size first; here each strip of the
    region the filter needs is converted, premultiplied and box-reduced on its own, and only the reduced image
    (< 2x the output) is resampled with LANCZOS.
    """
    mode = working_mode(im.mode, alpha)
    if mode == im.mode and mode not in _PREMULTIPLIED:  # nothing to convert: Pillow reduces just the box itself
        return im.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=REDUCING_GAP)
    width, height = box[2] - box[0], box[3] - box[1]
    fx = int(width / size[0] / REDUCING_GAP) or 1
    fy = int(height / size[1] / REDUCING_GAP) or 1
    if fx > 1 or fy > 1:  # the box Pillow reduces, so LANCZOS then sees the very same pixels
        sx, sy = (_LANCZOS_SUPPORT - 0.5) * width / size[0], (_LANCZOS_SUPPORT - 0.5) * height / size[1]
    else:  # no reduction: Pillow filters the whole image, so keep every pixel the filter window can reach
        sx, sy = _LANCZOS_SUPPORT * max(1.0, width / size[0]) + 1, _LANCZOS_SUPPORT * max(1.0, height / size[1]) + 1
    left, top = max(0, int(box[0] - sx)), max(0, int(box[1] - sy))
    right, bottom = min(im.width, math.ceil(box[2] + sx)), min(im.height, math.ceil(box[3] + sy))
    work_mode = _PREMULTIPLIED.get(mode, mode)
    reduced = Image.new(work_mode, (-(-(right - left) // fx), -(-(bottom - top) // fy)))
    rows = max(fy, strip_bytes // max(1, (right - left) * 4) // fy * fy)
    for y in range(top, bottom, rows):
        strip = to_working_mode(im.crop((left, y, right, min(bottom, y + rows))), alpha, factor)
        if strip.mode != work_mode:
            strip = strip.convert(work_mode)
        reduced.paste(strip.reduce((fx, fy)) if fx > 1 or fy > 1 else strip, (0, (y - top) // fy))
    inner = ((box[0] - left) / fx, (box[1] - top) / fy, (box[2] - left) / fx, (box[3] - top) / fy)
    out = reduced.resize(size, Image.Resampling.LANCZOS, box=inner)
    return out.convert(mode) if out.mode != mode else out


def _reason(exc: BaseException) -> str:
    """Our own words for a decoder failure: Pillow's messages name its internals (and sometimes paths)."""
    logger.debug("decoder failure: %r", exc)
    text = str(exc).lower()
    if "truncated" in text or isinstance(exc, EOFError) or "could not create decoder" in text:
        return "the file is truncated or corrupt (it ends before the image data does)"
    if "text chunk" in text or "decompressed data too large" in text:
        return (
            f"its text metadata (PNG text chunks) is larger than {_mb(PngImagePlugin.MAX_TEXT_CHUNK)} "
            f"uncompressed, or {_mb(PngImagePlugin.MAX_TEXT_MEMORY)} in all, the limits that keep metadata from "
            "exhausting memory. Re-save the image without its metadata"
        )
    if isinstance(exc, zlib.error) or "decoder error" in text or "broken data stream" in text:
        return "its compressed image data is corrupt"
    return "the file is damaged or uses a variant of the format that cannot be decoded"


def _bomb_message(name: str, text: str) -> str:
    match = re.search(r"\((\d+) pixels\)", text)
    size = f"{int(match.group(1)) / 1e6:.0f} MP" if match else "more pixels than allowed"
    return (
        f"{name} is {size}; the limit is {MAX_PIXELS_REDUCIBLE / 1e6:.0f} MP for JPEG and {MAX_PIXELS / 1e6:.0f} MP "
        "for other formats (decompression-bomb protection)"
    )


def _head(source: Path | bytes) -> bytes:
    if isinstance(source, bytes):
        return source[:64]
    try:
        with source.open("rb") as handle:
            return handle.read(64)
    except OSError:
        return b""


_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"ftypheic", 4, "HEIC"),
    (b"ftypheix", 4, "HEIC"),
    (b"ftyphevc", 4, "HEIC"),
    (b"ftypmif1", 4, "HEIF"),
    (b"ftypisom", 4, "an MP4 video"),
    (b"ftypmp4", 4, "an MP4 video"),
    (b"ftypqt", 4, "a QuickTime video"),
    (b"%PDF", 0, "PDF"),
    (b"8BPS", 0, "Photoshop (PSD)"),
    (b"\x00\x00\x01\x00", 0, "ICO"),
    (b"\x00\x00\x00\x0cJXL ", 0, "JPEG XL"),
    (b"\xff\x0a", 0, "JPEG XL"),
    (b"\x00\x00\x00\x0cjP  ", 0, "JPEG 2000"),
    (b"\xff\x4f\xff\x51", 0, "JPEG 2000"),
)


def _unidentified_message(name: str, head: bytes) -> str:
    if not head:
        return f"{name} is empty: 0 bytes"
    if head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        if width == 0 or height == 0:
            return f"{name} is a PNG of {width}x{height} pixels: zero width or height"
        return f"{name} is a damaged PNG (its header cannot be read)"
    if head.startswith((b"GIF87a", b"GIF89a")) and len(head) >= 10:
        width, height = struct.unpack("<HH", head[6:10])
        if width == 0 or height == 0:
            return f"{name} is a GIF of {width}x{height} pixels: zero width or height"
        return f"{name} is a damaged GIF (its header cannot be read)"
    if head.startswith(b"\xff\xd8"):
        return f"{name} is a damaged JPEG (its header cannot be read)"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return f"{name} is a damaged WebP (its header cannot be read)"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return f"{name} is a damaged or unsupported TIFF (its header cannot be read)"
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<svg", b"<?xml")):
        return f"{name} is SVG or XML, a format that is not supported; export it as PNG. Supported: {READABLE_TEXT}"
    for signature, offset, label in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return f"{name} is {label}, a format that is not supported; convert it first. Supported: {READABLE_TEXT}"
    return f"{name} is not an image in a supported format ({READABLE_TEXT})"
