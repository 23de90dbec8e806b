"""Fit any image to an exact, legal first frame for a video API: fast (reduced decoding) and safe (limits).

Usable without MCP: `fit_image(read_image_input(text, allowed_dirs), FitRequest(Size(1280, 720)), out_dir)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sora_mcp.imaging.errors import ImageInputError
from sora_mcp.imaging.inputs import read_image_input
from sora_mcp.imaging.request import CropBox, FitMode, FitOutcome, FitRequest, ImageFormat, Padding, PixelBox

if TYPE_CHECKING:
    from sora_mcp.imaging.fit import fit_image, image_size, reference_dir

_LAZY = ("fit_image", "image_size", "reference_dir")


def __getattr__(name: str) -> Any:
    """The engine (and Pillow with it) loads on first use, so `sora-mcp serve` starts without it."""
    if name in _LAZY:
        from sora_mcp.imaging import fit

        return getattr(fit, name)
    raise AttributeError(f"module 'sora_mcp.imaging' has no attribute {name!r}")


__all__ = [
    "CropBox",
    "FitMode",
    "FitOutcome",
    "FitRequest",
    "ImageFormat",
    "ImageInputError",
    "Padding",
    "PixelBox",
    "fit_image",
    "image_size",
    "read_image_input",
    "reference_dir",
]
