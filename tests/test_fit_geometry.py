"""Property tests of the fit arithmetic: the output is always exactly the target, crops are exact fractions,
and the EXIF coordinate mapping agrees with Pillow's own transposition."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from sora_mcp.imaging import CropBox, ImageInputError
from sora_mcp.imaging.geometry import (
    crop_region,
    draft_request,
    draft_scale,
    plan_geometry,
    raw_box,
    raw_point,
    upright_size,
)
from sora_mcp.imaging.request import FIT_MODES, MIN_CROP_FRACTION, PixelBox
from sora_mcp.sizes import Size

sizes = st.builds(Size, st.integers(1, 20_000), st.integers(1, 20_000))
targets = st.builds(Size, st.integers(1, 4_000), st.integers(1, 4_000))


@st.composite
def crops(draw: st.DrawFn) -> CropBox | None:
    if draw(st.booleans()):
        return None
    left = draw(st.floats(0.0, 1.0 - MIN_CROP_FRACTION))
    right = draw(st.floats(left + MIN_CROP_FRACTION, 1.0))
    top = draw(st.floats(0.0, 1.0 - MIN_CROP_FRACTION))
    bottom = draw(st.floats(top + MIN_CROP_FRACTION, 1.0))
    # left + 0.001 - left can round below 0.001: such boxes are rightly refused, so skip them here
    assume(right - left >= MIN_CROP_FRACTION and bottom - top >= MIN_CROP_FRACTION)
    return CropBox(left, top, right, bottom)


@settings(max_examples=300, deadline=None)
@given(source=sizes, target=targets, mode=st.sampled_from(FIT_MODES), crop=crops())
def test_content_plus_padding_is_exactly_the_target(
    source: Size, target: Size, mode: str, crop: CropBox | None
) -> None:
    g = plan_geometry(source, target, mode, crop)  # type: ignore[arg-type]
    pad = g.padding
    assert pad.left + g.content.width + pad.right == target.width
    assert pad.top + g.content.height + pad.bottom == target.height
    assert g.offset == (pad.left, pad.top)
    assert min(pad.left, pad.top, pad.right, pad.bottom) >= 0
    assert 1 <= g.content.width <= target.width and 1 <= g.content.height <= target.height
    if mode != "pad":
        assert g.content == target and not pad.any
    else:  # centred: the two sides differ by at most one pixel
        assert abs(pad.left - pad.right) <= 1 and abs(pad.top - pad.bottom) <= 1


@settings(max_examples=300, deadline=None)
@given(source=sizes, target=targets, mode=st.sampled_from(FIT_MODES), crop=crops())
def test_region_lies_inside_the_crop_and_keeps_the_right_shape(
    source: Size, target: Size, mode: str, crop: CropBox | None
) -> None:
    g = plan_geometry(source, target, mode, crop)  # type: ignore[arg-type]
    cropped = crop_region(source, crop)
    eps = 1e-6 * max(source.width, source.height)
    r = g.region
    assert cropped.left - eps <= r.left < r.right <= cropped.right + eps
    assert cropped.top - eps <= r.top < r.bottom <= cropped.bottom + eps
    assert r.left >= 0 and r.right <= source.width and r.top >= 0 and r.bottom <= source.height
    if mode == "stretch":
        assert r == cropped
    elif mode == "cover":
        # same aspect as the target, and one dimension of the crop fully used (coordinates near 20000 carry
        # ~1e-12 absolute float error, which matters for sub-pixel regions)
        ulps = 1e-12 * max(source.width, source.height)
        big = max(target.width, target.height)
        assert math.isclose(r.width * target.height, r.height * target.width, rel_tol=1e-9, abs_tol=ulps * big)
        assert math.isclose(r.width, cropped.width, rel_tol=1e-9, abs_tol=ulps) or math.isclose(
            r.height, cropped.height, rel_tol=1e-9, abs_tol=ulps
        )
        assert math.isclose(g.scale_x, g.scale_y, rel_tol=1e-9 + 8 * ulps / min(r.width, r.height))
    else:  # pad keeps the whole crop, and its aspect up to rounding of the content size
        assert r == cropped
        scale = min(target.width / r.width, target.height / r.height)
        assert abs(g.content.width - max(1.0, r.width * scale)) <= 0.5 + 1e-9
        assert abs(g.content.height - max(1.0, r.height * scale)) <= 0.5 + 1e-9
        assert g.content.width == target.width or g.content.height == target.height


@settings(max_examples=200, deadline=None)
@given(source=sizes, crop=crops())
def test_crop_region_is_the_fractions_times_the_size(source: Size, crop: CropBox | None) -> None:
    box = crop_region(source, crop)
    if crop is None:
        assert box == PixelBox(0, 0, source.width, source.height)
        return
    assert box.left == crop.left * source.width and box.right == crop.right * source.width
    assert box.top == crop.top * source.height and box.bottom == crop.bottom * source.height


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-0.5, 1.5)), min_size=4, max_size=4
    )
)
def test_crop_validation_accepts_exactly_the_legal_boxes(values: list[float]) -> None:
    left, top, right, bottom = values
    legal = (
        all(math.isfinite(v) and 0 <= v <= 1 for v in values)
        and right - left >= MIN_CROP_FRACTION
        and bottom - top >= MIN_CROP_FRACTION
    )
    if legal:
        CropBox(left, top, right, bottom)
    else:
        with pytest.raises(ImageInputError, match="crop"):
            CropBox(left, top, right, bottom)


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ((0.5, 0, 0.5, 1), "left=0.5 must be less than right=0.5"),
        ((0, 0.9, 1, 0.1), "top=0.9 must be less than bottom=0.1"),
        ((-0.1, 0, 1, 1), "left=-0.1 is outside 0..1"),
        ((0, 0, 1.5, 1), "right=1.5 is outside 0..1"),
        ((0, 0, float("nan"), 1), "crop right must be a number between 0 and 1"),
        ((0.5, 0, 0.5001, 1), "keeps less than 0.001 of the width or height"),
    ],
)
def test_crop_errors_name_the_value_and_the_rule(box: tuple[float, float, float, float], message: str) -> None:
    with pytest.raises(ImageInputError, match=message.replace("(", r"\(").replace(".", r"\.")):
        CropBox(*box)


@settings(max_examples=60, deadline=None)
@given(
    orientation=st.integers(1, 8),
    width=st.integers(1, 9),
    height=st.integers(1, 9),
    data=st.data(),
)
def test_raw_point_agrees_with_pillows_exif_transpose(
    orientation: int, width: int, height: int, data: st.DataObject
) -> None:
    """Mark one stored pixel, let Pillow show the image upright, and map the marker back with `raw_point`."""
    rx = data.draw(st.integers(0, width - 1))
    ry = data.draw(st.integers(0, height - 1))
    stored = Image.new("L", (width, height), 0)
    stored.putpixel((rx, ry), 255)
    exif = stored.getexif()
    exif[0x0112] = orientation
    stored.info["exif"] = exif.tobytes()
    upright = ImageOps.exif_transpose(stored)
    assert upright.size == tuple(upright_size(Size(width, height), orientation).__dict__.values())
    bbox = upright.getbbox()
    assert bbox is not None
    ux, uy = bbox[0], bbox[1]
    mapped = raw_point(ux + 0.5, uy + 0.5, Size(*upright.size), orientation)
    assert mapped == (rx + 0.5, ry + 0.5)
    box = raw_box(PixelBox(ux, uy, ux + 1, uy + 1), Size(*upright.size), orientation)
    assert box == PixelBox(rx, ry, rx + 1, ry + 1)


@settings(max_examples=200, deadline=None)
@given(raw=sizes, target=targets)
def test_draft_keeps_at_least_the_output_resolution(raw: Size, target: Size) -> None:
    region = PixelBox(0, 0, raw.width, raw.height)
    requested = draft_request(raw, region, target)
    scale = draft_scale(raw, requested)
    assert scale in (1, 2, 4, 8)
    # libjpeg's output at 1/scale still covers the output size (or the source when enlarging)
    assert math.ceil(raw.width / scale) >= min(raw.width, target.width)
    assert math.ceil(raw.height / scale) >= min(raw.height, target.height)
    # and the next coarser scale would not have
    if scale < 8:
        coarser = scale * 2
        assert raw.width // coarser < requested.width or raw.height // coarser < requested.height
