"""Colour normalisation: any Pillow mode and embedded ICC profile in, 8-bit sRGB out.

A video frame is 8-bit RGB without transparency, so everything ends there: CMYK product shots, palette
GIFs, 16-bit greyscale PNGs and Display-P3 phone photos alike. Conversions that are cheap on the small,
already-resampled frame (ICC, CMYK) are done after resampling; those that resampling cannot handle
(palettes, 16-bit) before it.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageCms

WorkingMode = Literal["L", "LA", "RGB", "RGBA", "CMYK"]
"""Modes Pillow resamples correctly (LA and RGBA with premultiplied alpha)."""

_PROFILE_SPACE_OF_MODE: dict[str, str] = {"L": "GRAY", "LA": "GRAY", "RGB": "RGB", "RGBA": "RGB", "CMYK": "CMYK"}


def working_mode(mode: str, has_transparency: bool) -> WorkingMode:
    """The mode an image of `mode` is resampled in."""
    if mode in ("L", "1") or mode.startswith(("I", "F")):
        return "L"
    if mode in ("LA", "La"):
        return "LA"
    if mode in ("RGBA", "RGBa", "PA"):
        return "RGBA"
    if mode == "P":
        return "RGBA" if has_transparency else "RGB"
    if mode == "CMYK":
        return "CMYK"
    return "RGB"


def level_factor(im: Image.Image) -> float:
    """The factor that maps `im`'s values to 0..255 on the way to 8 bits: decided on the whole image, so strips
    of it converted one by one all get the same scaling."""
    if im.mode.startswith("I;16"):
        return 1 / 257
    if im.mode == "I":
        return 1 / 257 if _maximum(im) > 255 else 1.0
    if im.mode == "F":
        return 255.0 if _maximum(im) <= 1.0 else 1.0
    return 1.0


def to_working_mode(im: Image.Image, has_transparency: bool, factor: float | None = None) -> Image.Image:
    """Convert to the working mode; 16-bit and float greyscale are scaled, not clipped, to 8 bits.

    `factor` is `level_factor` of the whole image when `im` is a strip of it.
    """
    target = working_mode(im.mode, has_transparency)
    if im.mode == target:
        return im
    if im.mode.startswith(("I", "F")):
        scale = level_factor(im) if factor is None else factor
        return _scaled_to_l(im.convert("I") if im.mode.startswith("I;16") else im, scale)
    return im.convert(target)


def _maximum(im: Image.Image) -> float:
    extrema = im.getextrema()
    high = extrema[1]
    return float(high if isinstance(high, int | float) else max(high))


def _scaled_to_l(im: Image.Image, factor: float) -> Image.Image:
    if factor != 1.0:
        im = im.point(lambda value: value * factor)
    return im.convert("L")


@dataclass(frozen=True)
class ProfileInfo:
    """An embedded ICC profile and what will be done with it."""

    description: str
    usable: bool
    """False: absent, already sRGB, unreadable, or for another colour space; colours are taken as sRGB."""
    note: str | None


def inspect_profile(icc: bytes | None, mode: WorkingMode) -> ProfileInfo:
    """Decide from the header whether the embedded profile is converted, so cached results can say so too."""
    if not icc:
        return ProfileInfo("", usable=False, note=None)
    try:
        space, description = _profile_facts(icc)
    except (OSError, ImageCms.PyCMSError, ValueError, TypeError):
        return ProfileInfo("", False, "ignored an unreadable embedded ICC profile; colours taken as sRGB")
    if "srgb" in description.lower():
        return ProfileInfo(description, usable=False, note=None)
    if space != _PROFILE_SPACE_OF_MODE[mode]:
        return ProfileInfo(
            description,
            False,
            f"ignored the embedded ICC profile '{description}' ({space} profile on a {mode} image)",
        )
    return ProfileInfo(description, True, f"converted colours from the embedded ICC profile '{description}' to sRGB")


@functools.lru_cache(maxsize=32)
def _profile_facts(icc: bytes) -> tuple[str, str]:
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    space = str(profile.profile.xcolor_space).strip()
    description = (ImageCms.getProfileDescription(profile) or "").strip() or "unnamed"
    return space, description


@functools.lru_cache(maxsize=1)
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@functools.lru_cache(maxsize=16)
def _transform(icc: bytes, in_mode: str) -> ImageCms.ImageCmsTransform:
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    return ImageCms.buildTransform(source, _srgb(), in_mode, "RGB")


def to_srgb_flat(
    im: Image.Image, profile: ProfileInfo, icc: bytes | None, background: tuple[int, int, int]
) -> Image.Image:
    """RGB in sRGB with any transparency composited onto `background`: what a video frame can hold."""
    alpha = im.getchannel("A") if im.mode in ("LA", "RGBA") else None
    colour = im.convert(im.mode[:-1]) if alpha is not None else im
    converted: Image.Image | None = None
    if profile.usable and icc:
        try:
            converted = ImageCms.applyTransform(colour, _transform(icc, colour.mode))
        except ImageCms.PyCMSError:
            converted = None  # a profile lcms parses but cannot apply: fall back to plain conversion
    rgb = converted if converted is not None else colour if colour.mode == "RGB" else colour.convert("RGB")
    if alpha is None:
        return rgb
    flat = Image.new("RGB", rgb.size, background)
    flat.paste(rgb, (0, 0), alpha)
    return flat
