"""Fit any image to an exact, legal first frame for a video API: fast (reduced decoding) and safe (limits).

Usable without MCP: `fit_image(read_image_input(text, allowed_dirs), FitRequest(Size(1280, 720)), out_dir)`.
"""

from __future__ import annotations

from sora_mcp.imaging.errors import ImageInputError
from sora_mcp.imaging.fit import fit_image, image_size, reference_dir
from sora_mcp.imaging.inputs import read_image_input
from sora_mcp.imaging.request import CropBox, FitMode, FitOutcome, FitRequest, ImageFormat, Padding, PixelBox

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
