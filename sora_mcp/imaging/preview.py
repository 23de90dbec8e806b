"""A small JPEG preview of a fitted frame, so an agent (and its user) can see the crop without opening files.

MCP clients cap a tool result at about 1 MB; a 320-pixel JPEG is ~15 KB, so it always fits.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

PREVIEW_MAX_SIDE = 320
PREVIEW_QUALITY = 75


def preview_jpeg(path: Path, max_side: int = PREVIEW_MAX_SIDE, quality: int = PREVIEW_QUALITY) -> bytes:
    """JPEG bytes of `path` scaled to at most `max_side` pixels on its long side."""
    with Image.open(path) as im:
        im.draft("RGB", (max_side, max_side))
        frame = im.convert("RGB")
        frame.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        frame.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()
