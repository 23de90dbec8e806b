"""Opening images safely and decoding only what the output needs.

Opening reads the header only; limits are checked there, before a pixel is decoded. Decoding asks libjpeg
for a 1/2, 1/4 or 1/8 scale image (DCT scaling: most of a 96 MP photo is never reconstructed), resamples
just the region that is used, and applies the EXIF orientation to the small result rather than to the
full image.
"""

from __future__ import annotations

import functools
import io
import re
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from sora_mcp.imaging.color import ProfileInfo, WorkingMode, inspect_profile, to_working_mode, working_mode
from sora_mcp.imaging.errors import ImageInputError
from sora_mcp.imaging.geometry import Geometry, draft_request, draft_scale, is_transposed, raw_box, upright_size
from sora_mcp.imaging.request import PixelBox
from sora_mcp.sizes import Size

MAX_SIDE = 65_535
"""Longest accepted side in pixels (JPEG's own maximum); anything longer is a forged header."""
MAX_PIXELS_REDUCIBLE = 250_000_000
"""JPEG is decoded at up to 1/8 scale, so even a 200 MP phone photo costs a few MB."""
MAX_PIXELS = 100_000_000
"""Other formats are decoded in full (~400 MB for 100 MP with alpha): the decompression-bomb limit."""

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
        orientation = int(im.getexif().get(_EXIF_ORIENTATION, 1))
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
    )


def planned_decode_scale(probe: Probe, geometry: Geometry) -> int:
    """1/n scale the JPEG will be decoded at (1 for other formats): known before decoding."""
    if not probe.reducible:
        return 1
    region, content = _raw_region(probe, geometry)
    return draft_scale(probe.raw, draft_request(probe.raw, region, content))


def _raw_region(probe: Probe, geometry: Geometry) -> tuple[PixelBox, Size]:
    region = raw_box(geometry.region, probe.upright, probe.orientation)
    content = geometry.content
    if is_transposed(probe.orientation):
        content = Size(content.height, content.width)
    return region, content


def decode_region(im: Image.Image, probe: Probe, geometry: Geometry, name: str) -> tuple[Image.Image, int]:
    """The used region, resampled to `geometry.content` and upright, in the working mode; and the 1/n scale."""
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
    except (OSError, SyntaxError, ValueError, struct.error, EOFError, zlib.error) as exc:
        raise ImageInputError(f"{name} could not be decoded: {_reason(exc)}") from None
    frame = to_working_mode(im, probe.has_transparency)
    box = (region.left / scale, region.top / scale, region.right / scale, region.bottom / scale)
    box = (box[0], box[1], min(box[2], float(frame.width)), min(box[3], float(frame.height)))
    size = (content.width, content.height)
    if all(float(v).is_integer() for v in box) and (box[2] - box[0], box[3] - box[1]) == size:
        out = frame.crop(box)  # same pixel grid: nothing to resample
    else:
        out = frame.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=REDUCING_GAP)
    transpose = _TRANSPOSE.get(probe.orientation)
    return (out.transpose(transpose) if transpose is not None else out), scale


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if "truncated" in text.lower() or isinstance(exc, EOFError) or "could not create decoder" in text:
        return "the file is truncated or corrupt (it ends before the image data does)"
    return f"the data is corrupt ({text or type(exc).__name__})"


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
