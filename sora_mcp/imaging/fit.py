"""`fit_image`: any image in, a frame of exactly the requested size out, written once and atomically.

The output name is a hash of the input's bytes and of every parameter that changes the pixels, so asking
twice costs one hash and one `stat`, and two processes fitting the same image cannot corrupt each other's
file (each writes a private temporary file and renames it into place).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from sora_mcp.imaging.color import to_srgb_flat
from sora_mcp.imaging.decode import (
    ORIENTATION_STEPS,
    Probe,
    check_decode_budget,
    decode_bytes,
    decode_region,
    decode_slot,
    open_image,
    planned_decode_scale,
)
from sora_mcp.imaging.errors import ImageInputError
from sora_mcp.imaging.geometry import Geometry, plan_geometry
from sora_mcp.imaging.png import write_png
from sora_mcp.imaging.request import FitOutcome, FitRequest, ImageFormat
from sora_mcp.sizes import Size

ENGINE_VERSION = "2"
"""Part of every output name: bump it when the same request would produce different pixels."""

ACCEPTED_FORMATS: dict[str, ImageFormat] = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "WEBP": "webp"}
"""Pillow format name -> output format the video API accepts for a reference image."""
PASS_THROUGH_FORMATS = ("JPEG", "PNG", "WEBP")
PASS_THROUGH_MODES = ("RGB", "L")
"""Modes every decoder reads the same way; CMYK, 16-bit, palette and alpha images are converted instead."""
EXTENSIONS: dict[ImageFormat, str] = {"jpeg": "jpg", "png": "png", "webp": "webp"}
WEBP_METHOD = 0
"""libwebp effort 0 of 6: a third of the default's (4) encoding time for ~5% more bytes at the same quality."""

REFERENCE_SUBDIR = "reference-images"

_SAFE_STEM = re.compile(r"[^A-Za-z0-9._-]+")


def fit_image(source: Path | bytes, request: FitRequest, out_dir: Path) -> FitOutcome:
    """Fit `source` (a file, or the bytes of one) to `request.target` and write the result into `out_dir`.

    Raises `ImageInputError` for anything wrong with the input or the request; `OSError` only when the
    output directory cannot be written.
    """
    name = f"'{source.name}'" if isinstance(source, Path) else "the image"
    with open_image(source, name) as (im, probe):
        geometry = plan_geometry(probe.upright, request.target, request.mode, request.effective_crop)
        out_format = output_format(request.format, probe.format)
        passed_through = _can_pass_through(probe, request, out_format)
        out_dir = _prepare_out_dir(out_dir)
        prefix, extension = _name_prefix(source, request), EXTENSIONS[out_format]
        decode_scale = 1 if passed_through else planned_decode_scale(probe, geometry)
        if not passed_through:
            check_decode_budget(probe, decode_scale, name)
        frame: Image.Image | None = None
        if passed_through or isinstance(source, bytes) or _any_named(out_dir, prefix, extension):
            digest = _content_digest(source)
        else:
            # Nothing with this name prefix exists, so no earlier result can match: hash the file while
            # decoding it instead of before (the hash of a 100 MB file is then free on a second core).
            with ThreadPoolExecutor(max_workers=1) as pool:
                pending = pool.submit(_content_digest, source)
                frame, decode_scale = _render(im, probe, geometry, request, name)
                digest = pending.result()
        path = out_dir / f"{prefix}{_params_key(digest, request, out_format)}.{extension}"
        reused = path.is_file()
        if not reused:
            if passed_through:
                with _atomic_file(path) as handle:
                    _copy_source(source, handle)
            else:
                if frame is None:
                    frame, decode_scale = _render(im, probe, geometry, request, name)
                with _atomic_file(path) as handle:
                    _save(frame, handle, out_format, request.quality)
        steps = describe(probe, geometry, request, out_format, passed_through, decode_scale)
    return FitOutcome(
        path=path,
        width=request.target.width,
        height=request.target.height,
        format=out_format,
        bytes=path.stat().st_size,
        mode=request.mode,
        passed_through=passed_through,
        reused=reused,
        source_format=probe.label,
        source_size=probe.upright,
        orientation=probe.orientation,
        crop_box=geometry.region.rounded(),
        content_size=geometry.content,
        padding=geometry.padding,
        scale_x=round(geometry.scale_x, 6),
        scale_y=round(geometry.scale_y, 6),
        decode_scale=decode_scale,
        steps=tuple(steps),
    )


def reference_dir(output_dir: Path) -> Path:
    """Where fitted reference images live inside the output directory (shared, so requests share the cache)."""
    return output_dir / REFERENCE_SUBDIR


def image_size(source: Path | bytes) -> Size:
    """The upright size (EXIF orientation applied) of `source`, from its header alone."""
    name = f"'{source.name}'" if isinstance(source, Path) else "the image"
    with open_image(source, name) as (_, probe):
        return probe.upright


def output_format(wanted: ImageFormat | None, source_format: str) -> ImageFormat:
    """The requested format; else the input's own when the API accepts it; else JPEG."""
    if wanted is not None:
        return wanted
    return ACCEPTED_FORMATS.get(source_format, "jpeg")


def _can_pass_through(probe: Probe, request: FitRequest, out_format: ImageFormat) -> bool:
    """Already a legal frame: exact size, accepted format, upright, plain 8-bit colour, sRGB, one frame."""
    return (
        probe.raw == request.target
        and probe.orientation == 1
        and request.effective_crop is None
        and probe.format in PASS_THROUGH_FORMATS
        and ACCEPTED_FORMATS[probe.format] == out_format
        and probe.mode in PASS_THROUGH_MODES
        and not probe.has_transparency
        and not probe.profile.usable
        and probe.profile.note is None
        and not probe.animated
    )


def _render(
    im: Image.Image, probe: Probe, geometry: Geometry, request: FitRequest, name: str
) -> tuple[Image.Image, int]:
    """Decode and compose the frame while holding its share of the decode pool (concurrent fits wait their turn)."""
    with decode_slot(decode_bytes(probe, planned_decode_scale(probe, geometry))):
        content, decode_scale = decode_region(im, probe, geometry, name)
        return _compose(content, probe, geometry, request), decode_scale


def _compose(content: Image.Image, probe: Probe, geometry: Geometry, request: FitRequest) -> Image.Image:
    background = request.background_rgb
    rgb = to_srgb_flat(content, probe.profile, probe.icc, background)
    rgb.info = {}  # no profile, EXIF or comment travels along: the pixels are plain sRGB, already upright
    if not geometry.padding.any:
        return rgb
    frame = Image.new("RGB", (geometry.target.width, geometry.target.height), background)
    frame.paste(rgb, geometry.offset)
    return frame


def describe(
    probe: Probe,
    geometry: Geometry,
    request: FitRequest,
    out_format: ImageFormat,
    passed_through: bool,
    decode_scale: int,
) -> list[str]:
    """What was (or, for a reused file, had been) done, in order, in words an agent can repeat."""
    target = request.target
    if passed_through:
        return [f"passed through unchanged: already a {target} {probe.label} in sRGB"]
    steps: list[str] = []
    if probe.animated:
        steps.append(f"used the first frame of the animated {probe.label}")
    if probe.orientation != 1:
        steps.append(f"applied EXIF orientation {probe.orientation} ({ORIENTATION_STEPS[probe.orientation]})")
    if decode_scale > 1:
        steps.append(f"decoded at 1/{decode_scale} scale (JPEG DCT scaling), never the full {probe.raw} pixels")
    conversion = _mode_step(probe)
    if conversion:
        steps.append(conversion)
    source, region = geometry.source, geometry.region.rounded()
    whole = (region.left, region.top, region.right, region.bottom) == (0, 0, source.width, source.height)
    if not whole:
        reason = "cropped" if request.mode == "cover" or request.effective_crop is not None else "used"
        steps.append(
            f"{reason} x {region.left:g}..{region.right:g}, y {region.top:g}..{region.bottom:g} "
            f"of the upright {source} image"
        )
    if request.mode == "stretch" and abs(geometry.scale_x - geometry.scale_y) > 1e-9:
        steps.append(
            f"stretched by {geometry.scale_x:.4g} x {geometry.scale_y:.4g} to {geometry.content} (LANCZOS), "
            "distorting the aspect ratio"
        )
    else:
        steps.append(f"scaled by {geometry.scale_x:.4g} to {geometry.content} (LANCZOS)")
    pad = geometry.padding
    if pad.any:
        steps.append(
            f"padded left {pad.left}, top {pad.top}, right {pad.right}, bottom {pad.bottom} with {request.background}"
        )
    if probe.profile.note:
        steps.append(probe.profile.note)
    if probe.has_transparency:
        steps.append(f"flattened transparency onto {request.background} (a video frame has no alpha)")
    quality = f" quality {request.quality}" if out_format != "png" else ""
    steps.append(f"encoded as {out_format.upper()}{quality}, {target}")
    return steps


def _mode_step(probe: Probe) -> str | None:
    mode = probe.mode
    if mode.startswith(("I;16", "I")) or mode == "F":
        return f"converted {'16-bit' if mode.startswith('I;16') else mode} greyscale to 8-bit sRGB"
    if mode == "CMYK":
        return "converted CMYK to RGB" + (" via the embedded ICC profile" if probe.profile.usable else "")
    if mode == "P":
        return "converted the palette to RGB" + (" with transparency" if probe.has_transparency else "")
    if mode not in ("RGB", "RGBA", "L", "LA"):
        return f"converted {mode} to RGB"
    return None


def _content_digest(source: Path | bytes) -> str:
    if isinstance(source, bytes):
        return hashlib.sha256(source).hexdigest()
    try:
        with source.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise ImageInputError(f"'{source}' cannot be read: {exc.strerror or exc}") from None


def _name_prefix(source: Path | bytes, request: FitRequest) -> str:
    """`<safe stem>-<size>-<mode>-`: readable, and lets a cache miss be known before hashing."""
    stem = _SAFE_STEM.sub("-", source.stem) if isinstance(source, Path) else ""
    stem = re.sub(r"-{2,}", "-", stem).strip("-.")[:40] or "image"
    return f"{stem}-{request.target}-{request.mode}-"


def _params_key(digest: str, request: FitRequest, out_format: ImageFormat) -> str:
    """16 hex digits of a hash over the input's content hash and every parameter that changes the pixels."""
    crop = request.effective_crop
    params = {
        "engine": ENGINE_VERSION,
        "input": digest,
        "size": str(request.target),
        "mode": request.mode,
        "background": request.background.lower(),
        "crop": None if crop is None else [crop.left, crop.top, crop.right, crop.bottom],
        "format": out_format,
        "quality": request.quality if out_format != "png" else None,
    }
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def _any_named(directory: Path, prefix: str, extension: str) -> bool:
    suffix = f".{extension}"
    with os.scandir(directory) as entries:
        return any(e.name.startswith(prefix) and e.name.endswith(suffix) for e in entries)


def _prepare_out_dir(out_dir: Path) -> Path:
    out_dir = out_dir.expanduser()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create the output directory '{out_dir}': {exc.strerror or exc}") from exc
    return out_dir.resolve()


@contextmanager
def _atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A private temporary file next to `path`, renamed onto it only when fully written."""
    fd, temp = tempfile.mkstemp(prefix=".fit-", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _copy_source(source: Path | bytes, handle: BinaryIO) -> None:
    if isinstance(source, bytes):
        handle.write(source)
        return
    with source.open("rb") as original:
        shutil.copyfileobj(original, handle)


def _save(frame: Image.Image, handle: BinaryIO, out_format: ImageFormat, quality: int) -> None:
    if out_format == "jpeg":
        frame.save(handle, "JPEG", quality=quality)
    elif out_format == "png":
        write_png(frame, handle)
    else:
        frame.save(handle, "WEBP", quality=quality, method=WEBP_METHOD)
