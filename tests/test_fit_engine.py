"""The fitting engine on real, generated images: orientation, colour, odd shapes, every size and mode,
pass-through, caching and atomic output."""

from __future__ import annotations

import io
import tempfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from sora_mcp.imaging import CropBox, FitOutcome, FitRequest, fit_image
from sora_mcp.imaging.png import PARALLEL_BYTES, deflate, write_png
from sora_mcp.imaging.request import FIT_MODES
from sora_mcp.sizes import Size
from tests.test_fit_corpus import (
    BLUE,
    CORNERS,
    GREEN,
    RED,
    YELLOW,
    animated_gif,
    close,
    cmyk_jpeg,
    corner_colour,
    encode,
    la_png,
    oriented_jpeg,
    palette_png_with_transparency,
    png16,
    quadrants,
    srgb_icc_profile,
    stored_for_orientation,
    swapped_icc_profile,
)

API_SIZES = [Size(720, 1280), Size(1280, 720), Size(1024, 1792), Size(1792, 1024)]
LANDSCAPE = Size(1280, 720)


def opened(outcome: FitOutcome) -> Image.Image:
    im = Image.open(outcome.path)
    im.load()
    return im


def content_corner(im: Image.Image, outcome: FitOutcome, corner: str) -> tuple[int, int, int]:
    """Corner colour of the content area (inside any padding)."""
    pad = outcome.padding
    inner = im.crop((pad.left, pad.top, im.width - pad.right, im.height - pad.bottom))
    return corner_colour(inner, corner)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("mode", FIT_MODES)
def test_every_exif_orientation_ends_upright(orientation: int, mode: str, tmp_path: Path) -> None:
    outcome = fit_image(oriented_jpeg(orientation), FitRequest(LANDSCAPE, mode), tmp_path)  # type: ignore[arg-type]
    im = opened(outcome)
    assert im.size == (1280, 720)
    assert outcome.orientation == orientation
    assert outcome.source_size == Size(60, 40)
    assert im.getexif().get(0x0112) is None  # no tag left that would make a viewer rotate it again
    for corner, colour in CORNERS.items():
        assert close(content_corner(im, outcome, corner), colour), (orientation, mode, corner)
    if orientation != 1:
        assert any(f"EXIF orientation {orientation}" in step for step in outcome.steps)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_orientation_with_reduced_decoding_and_a_marker_block(orientation: int, tmp_path: Path) -> None:
    """A 3200x2000 photo decoded at 1/2 scale: the marker must still land top-left after rotation."""
    upright = Image.new("RGB", (3200, 2000), (128, 128, 128))
    upright.paste(RED, (0, 0, 400, 400))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(stored_for_orientation_fast(upright, orientation), "JPEG", quality=90, exif=exif.tobytes())
    outcome = fit_image(data, FitRequest(LANDSCAPE, "stretch"), tmp_path)
    assert outcome.decode_scale == 2
    im = opened(outcome)
    assert close(corner_colour(im, "top_left", inset=0.03), RED)
    for corner in ("top_right", "bottom_left", "bottom_right"):
        assert close(corner_colour(im, corner, inset=0.03), (128, 128, 128)), corner


def stored_for_orientation_fast(upright: Image.Image, orientation: int) -> Image.Image:
    """Large-image version of the corpus's pixel-by-pixel construction, checked against it on a small image."""
    inverse = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_90,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_270,
    }
    small = quadrants(12, 8)
    assert small.transpose(inverse[orientation]).tobytes() == stored_for_orientation(small, orientation).tobytes()
    return upright.transpose(inverse[orientation])


@pytest.mark.parametrize("target", API_SIZES, ids=str)
@pytest.mark.parametrize("mode", FIT_MODES)
def test_every_api_size_in_every_mode_is_exact(target: Size, mode: str, tmp_path: Path) -> None:
    source = encode(quadrants(300, 200), "JPEG", quality=90)
    outcome = fit_image(source, FitRequest(target, mode), tmp_path)  # type: ignore[arg-type]
    im = opened(outcome)
    assert im.size == (target.width, target.height) == (outcome.width, outcome.height)
    assert im.format == "JPEG" and im.mode == "RGB"
    assert outcome.bytes == outcome.path.stat().st_size
    if mode == "pad":
        # a landscape source in a portrait frame gets bars top and bottom, in the background colour
        if target.height > target.width:
            assert outcome.padding.top > 0 and outcome.padding.left == 0
            assert close(corner_colour(im, "top_left", inset=0.01), (0, 0, 0), tolerance=8)
        for corner, colour in CORNERS.items():
            assert close(content_corner(im, outcome, corner), colour), corner
    else:
        assert not outcome.padding.any


@settings(max_examples=25, deadline=None)
@given(
    width=st.integers(1, 120),
    height=st.integers(1, 120),
    target=st.builds(Size, st.integers(1, 300), st.integers(1, 300)),
    mode=st.sampled_from(FIT_MODES),
    fmt=st.sampled_from(["JPEG", "PNG", "WEBP"]),
    orientation=st.integers(1, 8),
)
def test_any_real_image_comes_out_exactly_the_target(
    width: int, height: int, target: Size, mode: str, fmt: str, orientation: int
) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    source = encode(Image.new("RGB", (width, height), (10, 120, 200)), fmt, exif=exif.tobytes())
    with tempfile.TemporaryDirectory() as out:
        kept = fit_image(source, FitRequest(target, mode), Path(out))  # type: ignore[arg-type]
        im = opened(kept)
        assert im.size == (target.width, target.height)
        assert im.format == fmt  # the input's own format is kept when the API accepts it
        # lossless output: a uniform source stays that colour (no resampling or padding leaks into content)
        lossless = fit_image(source, FitRequest(target, mode, format="png"), Path(out))  # type: ignore[arg-type]
        im = opened(lossless)
        assert im.size == (target.width, target.height)
        tolerance = 3 if fmt == "PNG" else 12  # lossy WebP and JPEG sources are not uniform themselves
        assert close(content_corner(im, lossless, "top_left"), (10, 120, 200), tolerance=tolerance)


@pytest.mark.parametrize(
    ("crop", "colour"),
    [
        (CropBox(0, 0, 0.5, 0.5), RED),
        (CropBox(0.5, 0, 1, 0.5), GREEN),
        (CropBox(0, 0.5, 0.5, 1), BLUE),
        (CropBox(0.55, 0.55, 0.95, 0.95), YELLOW),
    ],
)
@pytest.mark.parametrize("mode", FIT_MODES)
def test_crop_fractions_select_the_region(
    crop: CropBox, colour: tuple[int, int, int], mode: str, tmp_path: Path
) -> None:
    source = encode(quadrants(400, 300), "PNG")
    outcome = fit_image(source, FitRequest(LANDSCAPE, mode, crop=crop), tmp_path)  # type: ignore[arg-type]
    im = opened(outcome)
    assert im.size == (1280, 720)
    for corner in CORNERS:
        assert close(content_corner(im, outcome, corner), colour, tolerance=12), corner
    box = outcome.crop_box
    eps = 0.01  # the outcome reports pixels rounded to 2 decimals
    assert crop.left * 400 - eps <= box.left < box.right <= crop.right * 400 + eps
    assert crop.top * 300 - eps <= box.top < box.bottom <= crop.bottom * 300 + eps


def test_crop_applies_to_the_upright_picture(tmp_path: Path) -> None:
    """Orientation 6 stores the picture rotated; 'top-left quarter' still means the red one."""
    outcome = fit_image(
        oriented_jpeg(6, 120, 80), FitRequest(LANDSCAPE, "stretch", crop=CropBox(0, 0, 0.5, 0.5)), tmp_path
    )
    im = opened(outcome)
    for corner in CORNERS:
        assert close(corner_colour(im, corner), RED), corner


def test_cmyk_jpeg_converts_to_rgb(tmp_path: Path) -> None:
    outcome = fit_image(cmyk_jpeg(), FitRequest(LANDSCAPE, "stretch"), tmp_path)
    im = opened(outcome)
    assert im.mode == "RGB"
    assert close(corner_colour(im, "top_left"), (255, 0, 0), tolerance=30)
    assert close(corner_colour(im, "top_right"), (0, 255, 255), tolerance=30)
    assert any("CMYK" in step for step in outcome.steps)
    assert not outcome.passed_through


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    source = png16()
    with Image.open(io.BytesIO(source)) as check:
        assert check.mode.startswith("I")  # really 16-bit in the file
    outcome = fit_image(source, FitRequest(LANDSCAPE, "stretch"), tmp_path)
    im = opened(outcome)
    assert im.format == "PNG" and im.mode == "RGB"
    assert close(corner_colour(im, "top_left"), (255, 255, 255), tolerance=2)
    assert close(corner_colour(im, "top_right"), (128, 128, 128), tolerance=2)  # clipping would give 255
    assert any("16-bit" in step for step in outcome.steps)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_palette_transparency_is_flattened_onto_the_background(fmt: str, tmp_path: Path) -> None:
    request = FitRequest(LANDSCAPE, "stretch", background="#ff00ff", format=fmt)  # type: ignore[arg-type]
    outcome = fit_image(palette_png_with_transparency(), request, tmp_path)
    im = opened(outcome)
    assert im.mode == "RGB"
    assert close(corner_colour(im, "top_left"), (255, 0, 255), tolerance=20)
    assert close(corner_colour(im, "top_right"), GREEN, tolerance=20)
    assert any("flattened transparency onto #ff00ff" in step for step in outcome.steps)


def test_la_greyscale_with_alpha(tmp_path: Path) -> None:
    outcome = fit_image(la_png(), FitRequest(LANDSCAPE, "pad", background="#0000ff"), tmp_path)
    im = opened(outcome)
    assert im.mode == "RGB"
    assert close(content_corner(im, outcome, "top_left"), (0, 0, 255), tolerance=3)
    assert close(content_corner(im, outcome, "top_right"), (255, 255, 255), tolerance=3)


def test_pad_uses_any_background_colour(tmp_path: Path) -> None:
    source = encode(Image.new("RGB", (100, 100), (255, 255, 255)), "PNG")
    outcome = fit_image(source, FitRequest(LANDSCAPE, "pad", background="#12AB9c"), tmp_path)
    im = opened(outcome)
    assert outcome.padding.left == outcome.padding.right == (1280 - 720) // 2
    assert im.getpixel((5, 360)) == (0x12, 0xAB, 0x9C)
    assert im.getpixel((1275, 360)) == (0x12, 0xAB, 0x9C)
    assert im.getpixel((640, 360)) == (255, 255, 255)


def test_animated_gif_uses_the_first_frame_and_becomes_jpeg(tmp_path: Path) -> None:
    outcome = fit_image(animated_gif(), FitRequest(LANDSCAPE, "cover"), tmp_path)
    im = opened(outcome)
    assert outcome.format == "jpeg" and im.format == "JPEG"
    assert close(corner_colour(im, "top_left"), RED, tolerance=30)
    assert any("first frame" in step for step in outcome.steps)


def test_multi_picture_jpeg_uses_the_primary_image_with_reduced_decoding(tmp_path: Path) -> None:
    primary, secondary = Image.new("RGB", (2800, 1600), RED), Image.new("RGB", (2800, 1600), BLUE)
    mpo = encode(primary, "MPO", save_all=True, append_images=[secondary])
    outcome = fit_image(mpo, FitRequest(LANDSCAPE), tmp_path)
    assert outcome.source_format == "JPEG (MPO)" and outcome.format == "jpeg" and outcome.decode_scale == 2
    assert close(corner_colour(opened(outcome), "top_left"), RED, tolerance=10)
    assert not any("frame" in step for step in outcome.steps)


def test_progressive_jpeg_is_decoded_at_reduced_scale_too(tmp_path: Path) -> None:
    source = encode(quadrants(2800, 1600), "JPEG", progressive=True, quality=90)
    outcome = fit_image(source, FitRequest(LANDSCAPE, "stretch"), tmp_path)
    assert outcome.decode_scale == 2
    for corner, colour in CORNERS.items():
        assert close(corner_colour(opened(outcome), corner), colour), corner


def test_embedded_icc_profile_is_converted_to_srgb(tmp_path: Path) -> None:
    source = encode(Image.new("RGB", (64, 48), RED), "PNG", icc_profile=swapped_icc_profile())
    outcome = fit_image(source, FitRequest(LANDSCAPE, "cover"), tmp_path)
    im = opened(outcome)
    r, g, b = corner_colour(im, "top_left")
    assert b > 180 and r < 60, (r, g, b)  # red under the swapped profile is really blue
    assert any("Swapped red-blue test profile" in step for step in outcome.steps)
    assert "icc_profile" not in im.info


def test_embedded_icc_profile_with_reduced_jpeg_decoding(tmp_path: Path) -> None:
    source = encode(Image.new("RGB", (2600, 1500), RED), "JPEG", quality=90, icc_profile=swapped_icc_profile())
    outcome = fit_image(source, FitRequest(LANDSCAPE, "cover"), tmp_path)
    assert outcome.decode_scale == 2
    r, _, b = corner_colour(opened(outcome), "top_left")
    assert b > 180 and r < 60


def test_srgb_profile_changes_nothing_and_still_passes_through(tmp_path: Path) -> None:
    source = encode(Image.new("RGB", (1280, 720), RED), "JPEG", quality=90, icc_profile=srgb_icc_profile())
    outcome = fit_image(source, FitRequest(LANDSCAPE, "cover"), tmp_path)
    assert outcome.passed_through
    assert outcome.path.read_bytes() == source


@pytest.mark.parametrize("mode", FIT_MODES)
def test_one_pixel_image(mode: str, tmp_path: Path) -> None:
    source = encode(Image.new("RGB", (1, 1), (200, 30, 90)), "PNG")
    outcome = fit_image(source, FitRequest(Size(720, 1280), mode), tmp_path)  # type: ignore[arg-type]
    im = opened(outcome)
    assert im.size == (720, 1280)
    assert close(content_corner(im, outcome, "top_left"), (200, 30, 90), tolerance=2)


@pytest.mark.parametrize("mode", FIT_MODES)
@pytest.mark.parametrize("target", [LANDSCAPE, Size(1024, 1792)], ids=str)
def test_one_by_ten_thousand_strip(mode: str, target: Size, tmp_path: Path) -> None:
    strip = Image.new("RGB", (1, 10_000), (20, 20, 200))
    strip.paste((250, 250, 0), (0, 0, 1, 5_000))
    outcome = fit_image(encode(strip, "PNG"), FitRequest(target, mode), tmp_path)  # type: ignore[arg-type]
    im = opened(outcome)
    assert im.size == (target.width, target.height)
    if mode == "pad":
        assert outcome.content_size.height == target.height and outcome.content_size.width == 1
    if mode == "stretch":
        assert close(corner_colour(im, "top_left"), (250, 250, 0), tolerance=10)
        assert close(corner_colour(im, "bottom_left"), (20, 20, 200), tolerance=10)


class TestPassThrough:
    @pytest.mark.parametrize(("fmt", "ext"), [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp")])
    def test_a_legal_frame_is_copied_byte_for_byte(self, fmt: str, ext: str, tmp_path: Path) -> None:
        source = tmp_path / f"frame.{ext}"
        source.write_bytes(encode(quadrants(1280, 720), fmt))
        outcome = fit_image(source, FitRequest(LANDSCAPE, "pad"), tmp_path / "out")
        assert outcome.passed_through
        assert outcome.path.read_bytes() == source.read_bytes()
        assert outcome.path.parent == (tmp_path / "out").resolve()
        assert outcome.steps[0].startswith("passed through unchanged")

    @pytest.mark.parametrize(
        ("image", "request_kwargs", "reason"),
        [
            (oriented_jpeg(6, 720, 1280), {}, "EXIF orientation must be applied"),
            (encode(quadrants(1280, 720), "JPEG"), {"format": "png"}, "another format was asked for"),
            (encode(quadrants(1280, 720), "JPEG"), {"crop": CropBox(0, 0, 0.5, 1)}, "a crop was asked for"),
            (encode(Image.new("RGBA", (1280, 720)), "PNG"), {}, "transparency is flattened"),
            (encode(Image.new("CMYK", (1280, 720)), "JPEG"), {}, "CMYK is converted"),
            (encode(Image.new("RGB", (1280, 720)), "BMP"), {}, "BMP is not accepted by the API"),
        ],
    )
    def test_anything_else_is_processed(
        self, image: bytes, request_kwargs: dict[str, object], reason: str, tmp_path: Path
    ) -> None:
        outcome = fit_image(image, FitRequest(LANDSCAPE, "cover", **request_kwargs), tmp_path)  # type: ignore[arg-type]
        assert not outcome.passed_through, reason
        assert opened(outcome).size == (1280, 720)

    def test_a_full_crop_is_no_crop(self, tmp_path: Path) -> None:
        source = encode(quadrants(1280, 720), "JPEG")
        outcome = fit_image(source, FitRequest(LANDSCAPE, crop=CropBox(0, 0, 1, 1)), tmp_path)
        assert outcome.passed_through


class TestOutputFiles:
    def test_same_request_twice_reuses_the_file(self, tmp_path: Path) -> None:
        source = tmp_path / "photo.jpg"
        source.write_bytes(oriented_jpeg(6, 300, 200))
        request = FitRequest(LANDSCAPE, "cover")
        first = fit_image(source, request, tmp_path / "out")
        mtime = first.path.stat().st_mtime_ns
        second = fit_image(source, request, tmp_path / "out")
        assert not first.reused and second.reused
        assert second.path == first.path and second.path.stat().st_mtime_ns == mtime
        # the reused outcome describes the same work, computed from the header alone
        assert (second.steps, second.crop_box, second.decode_scale) == (first.steps, first.crop_box, first.decode_scale)

    def test_name_depends_on_content_and_every_parameter(self, tmp_path: Path) -> None:
        a = encode(quadrants(300, 200), "JPEG")
        b = encode(quadrants(302, 200), "JPEG")
        base = FitRequest(LANDSCAPE, "pad")
        variants = [
            (a, base),
            (b, base),
            (a, FitRequest(LANDSCAPE, "cover")),
            (a, FitRequest(Size(720, 1280), "pad")),
            (a, FitRequest(LANDSCAPE, "pad", background="#ffffff")),
            (a, FitRequest(LANDSCAPE, "pad", crop=CropBox(0.1, 0, 1, 1))),
            (a, FitRequest(LANDSCAPE, "pad", format="png")),
            (a, FitRequest(LANDSCAPE, "pad", quality=80)),
        ]
        paths = {fit_image(src, req, tmp_path).path for src, req in variants}
        assert len(paths) == len(variants)

    def test_file_names_come_from_the_source_name_safely(self, tmp_path: Path) -> None:
        source = tmp_path / "my holiday;$(rm -rf).jpg"
        source.write_bytes(encode(quadrants(300, 200), "JPEG"))
        outcome = fit_image(source, FitRequest(LANDSCAPE), tmp_path / "out")
        assert outcome.path.parent == (tmp_path / "out").resolve()
        assert outcome.path.name.startswith("my-holiday-rm-rf-1280x720-cover-")

    def test_writes_are_atomic_and_leave_no_temporary_files(self, tmp_path: Path) -> None:
        out = tmp_path / "deep" / "out"
        for mode in FIT_MODES:
            fit_image(encode(quadrants(300, 200), "PNG"), FitRequest(LANDSCAPE, mode), out)
        names = sorted(p.name for p in out.iterdir())
        assert len(names) == 3 and not any(n.startswith(".") or n.endswith(".part") for n in names)

    def test_failed_encoding_leaves_nothing_behind(self, tmp_path: Path) -> None:
        truncated = encode(quadrants(300, 200), "JPEG")[:400]
        with pytest.raises(ValueError, match="truncated"):
            fit_image(truncated, FitRequest(LANDSCAPE), tmp_path)
        assert list(tmp_path.iterdir()) == []

    @pytest.mark.parametrize(
        ("source_fmt", "wanted", "expected"),
        [
            ("JPEG", None, "JPEG"),
            ("PNG", None, "PNG"),
            ("WEBP", None, "WEBP"),
            ("BMP", None, "JPEG"),
            ("TIFF", None, "JPEG"),
            ("JPEG", "webp", "WEBP"),
            ("PNG", "jpeg", "JPEG"),
        ],
    )
    def test_output_format(self, source_fmt: str, wanted: str | None, expected: str, tmp_path: Path) -> None:
        source = encode(quadrants(300, 200), source_fmt)
        outcome = fit_image(source, FitRequest(LANDSCAPE, format=wanted), tmp_path)  # type: ignore[arg-type]
        assert opened(outcome).format == expected
        assert outcome.path.suffix == {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}[expected]

    def test_jpeg_quality_is_applied(self, tmp_path: Path) -> None:
        noisy = encode(Image.effect_noise((400, 300), 60).convert("RGB"), "PNG")
        low = fit_image(noisy, FitRequest(LANDSCAPE, format="jpeg", quality=30), tmp_path)
        high = fit_image(noisy, FitRequest(LANDSCAPE, format="jpeg", quality=95), tmp_path)
        assert low.bytes < high.bytes / 2


@settings(max_examples=30, deadline=None)
@given(width=st.integers(1, 64), height=st.integers(1, 64), seed=st.integers(0, 255))
def test_fast_png_writer_round_trips_exactly(width: int, height: int, seed: int) -> None:
    frame = Image.effect_noise((width, height), 80).convert("RGB")
    frame = Image.merge(
        "RGB", [frame.getchannel(0), frame.getchannel(1).point(lambda v: (v + seed) % 256), frame.getchannel(2)]
    )
    buffer = io.BytesIO()
    write_png(frame, buffer)
    with Image.open(io.BytesIO(buffer.getvalue())) as back:
        back.load()  # a malformed stream or a wrong zlib checksum would raise here
        assert back.format == "PNG" and back.mode == "RGB" and back.size == (width, height)
        assert back.tobytes() == frame.tobytes()


def test_fast_png_writer_refuses_other_modes() -> None:
    with pytest.raises(ValueError, match="RGB frames"):
        write_png(Image.new("RGBA", (2, 2)), io.BytesIO())


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=3000), parts=st.integers(1, 5), level=st.integers(0, 9))
def test_parallel_deflate_is_one_valid_zlib_stream(data: bytes, parts: int, level: int) -> None:
    assert zlib.decompress(deflate(data, level, parts)) == data


def test_large_frames_use_the_parallel_path_and_stay_exact(tmp_path: Path) -> None:
    frame = Image.effect_noise((1280, 720), 40).convert("RGB")
    assert PARALLEL_BYTES <= 1280 * 3 * 720
    buffer = io.BytesIO()
    write_png(frame, buffer)
    with Image.open(io.BytesIO(buffer.getvalue())) as back:
        assert back.tobytes() == frame.tobytes()
