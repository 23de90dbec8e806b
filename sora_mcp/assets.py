"""Checks for downloaded side assets (thumbnail, spritesheet) before they are shown to an agent.

A provider may send random bytes, a truncated file or a decompression bomb as a thumbnail. Such an asset
must never break the status of a job whose MP4 is fine: the caller drops the asset (and says why) instead.
Pillow is imported inside the function so that start-up does not pay for it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

_IMAGE_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF", "MPO"})


def _megabytes(limit: int) -> str:
    """`20 MB` for both 20_000_000 and 20 << 20 (whichever unit divides the limit), `1.5 MB`, `100 bytes`."""
    if limit < 1_000_000:
        return f"{limit} bytes"
    value = limit / (1 << 20) if limit % (1 << 20) == 0 else limit / 1_000_000
    return f"{round(value, 1):g} MB"


def check_image_asset(path: Path, *, max_bytes: int, max_pixels: int) -> str | None:
    """None when `path` is a decodable PNG/JPEG/WebP/GIF within both limits, else a short reason.

    Reasons: "missing", "empty", "over 20 MB", "not an image", "not a supported image (TIFF)",
    "over 50000000 pixels (12000x9000)", "truncated or corrupt". The size is checked before anything is read,
    the pixel count from the header before decoding, and then the whole image is decoded (so a file that
    only starts like an image is refused too). Never raises for a bad file.
    """
    try:
        size = os.stat(path).st_size
    except OSError:
        return "missing"
    if size == 0:
        return "empty"
    if size > max_bytes:
        return f"over {_megabytes(max_bytes)}"

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                fmt = image.format or "unknown"
                if fmt not in _IMAGE_FORMATS:
                    return f"not a supported image ({fmt})"
                width, height = image.size
                if width <= 0 or height <= 0:
                    return "not an image"
                if width * height > max_pixels:
                    return f"over {max_pixels} pixels ({width}x{height})"
                image.load()
    except UnidentifiedImageError:
        return "not an image"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return f"over {max_pixels} pixels"
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, MemoryError):
        return "truncated or corrupt"
    return None
