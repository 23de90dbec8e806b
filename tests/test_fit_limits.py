"""Memory is bounded by the decoded frame, not the file: the byte budget (by bit depth and mode), the strip-wise
reduction that keeps conversions small, the decode slots, and our own wording for Pillow's refusals."""

from __future__ import annotations

import io
import struct
import threading
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat, PngImagePlugin

from sora_mcp.imaging import FitRequest, ImageInputError, fit_image
from sora_mcp.imaging.color import to_working_mode
from sora_mcp.imaging.decode import (
    DECODE_POOL_BYTES,
    MAX_CONCURRENT_DECODES,
    MAX_DECODE_BYTES,
    REDUCING_GAP,
    DecodePool,
    _pool,
    _resample,
    check_decode_budget,
    decode_slot,
    open_image,
)
from sora_mcp.sizes import Size
from tests.test_fit_corpus import encode, jpeg_header, png16, quadrants

TARGET = FitRequest(Size(1280, 720))
PILLOW_WORDS = ("PngImagePlugin", "MAX_TEXT_CHUNK", "DecompressionBomb", "decompression bomb DOS", "Error -3", "zlib")


def png_claiming(width: int, height: int, bit_depth: int, colour_type: int) -> bytes:
    """A PNG header claiming a size, depth and colour type, with (almost) no pixel data behind it."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def refusal(source: bytes, tmp_path: Path) -> str:
    with pytest.raises(ImageInputError) as err:
        fit_image(source, TARGET, tmp_path)
    return str(err.value)


class TestByteBudget:
    def test_the_same_pixels_cost_what_their_decoder_costs(self, tmp_path: Path) -> None:
        """26 MP each: a PNG (4 bytes a pixel) is within the budget, a WebP (its decoder holds 4 copies) is not."""
        assert refusal(png_claiming(5200, 5000, 8, 2), tmp_path).startswith("the image could not be decoded")
        webp = encode(Image.new("RGB", (5200, 5000), (10, 120, 200)), "WEBP", quality=50, method=0)
        message = refusal(webp, tmp_path)
        assert message.startswith("the image is a 5200x5000 (26 MP) RGB WebP: decoding it takes 397 MB")
        assert (
            "(about 16 bytes per pixel), more than the 384 MB one image may use (about 25 MP of this kind)" in message
        )
        assert message.endswith("Downscale it to at most 5115x4919 first (or save it as an 8-bit JPEG)")

    @pytest.mark.parametrize(("depth", "colour"), [(16, 0), (8, 6), (16, 4)], ids=["grey16", "rgba", "grey16+alpha"])
    def test_100_mp_pngs_of_every_kind_fit_the_budget(self, depth: int, colour: int, tmp_path: Path) -> None:
        assert MAX_DECODE_BYTES >= 10_000 * 10_000 * 4
        assert refusal(png_claiming(10_000, 10_000, depth, colour), tmp_path).startswith("the image could not be")

    def test_progressive_jpeg_counts_its_coefficients(self, tmp_path: Path) -> None:
        """A baseline JPEG is decoded at 1/8 scale in a few MB; a progressive one holds every coefficient."""
        baseline = jpeg_header(16_000, 12_000)
        progressive = baseline.replace(b"\xff\xc0", b"\xff\xc2", 1)
        assert refusal(baseline, tmp_path).startswith("the image could not be decoded")  # past the budget
        message = refusal(progressive, tmp_path)
        assert "16000x12000 (192 MP) RGB JPEG: decoding it takes 561 MB (a progressive JPEG holds" in message
        assert "Save it as a baseline (non-progressive) JPEG, or downscale it to at most" in message

    def test_budget_is_checked_before_anything_is_decoded(self) -> None:
        """Bytes, not pixels: at a budget of 5000 bytes a 50x50 16-bit image (5000) fits, RGB (10000) does not."""
        with open_image(encode(Image.new("I;16", (50, 50)), "PNG"), "grey") as (im, probe):
            check_decode_budget(probe, 1, "grey", budget=5000)
            assert getattr(im, "tile", None)  # nothing decoded yet
        with (
            open_image(encode(Image.new("RGB", (50, 50)), "PNG"), "rgb") as (_, probe),
            pytest.raises(ImageInputError, match=r"rgb is a 50x50 \(0 MP\) RGB PNG"),
        ):
            check_decode_budget(probe, 1, "rgb", budget=5000)

    def test_a_large_16_bit_png_within_the_budget_is_fitted(self, tmp_path: Path) -> None:
        outcome = fit_image(png16(4000, 3000), TARGET, tmp_path)
        with Image.open(outcome.path) as im:
            assert im.size == (1280, 720)
            assert im.getpixel((100, 360)) == (255, 255, 255)
            assert im.getpixel((1180, 360)) in ((127, 127, 127), (128, 128, 128))  # scaled to 8 bits, not clipped


class TestStripwiseReduction:
    """The strips must give exactly what one full-size conversion and `resize(reducing_gap=...)` give."""

    @pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "I;16", "RGB", "L", "CMYK"])
    @pytest.mark.parametrize(
        ("box", "size"),
        [
            ((0.0, 0.0, 1500.0, 1000.0), (640, 360)),  # reduced 2x before LANCZOS
            ((155.5, 100.25, 1200.0, 950.0), (200, 360)),  # a fractional crop, reduced 5x by 2x
            ((300.0, 200.0, 900.0, 700.0), (640, 360)),  # enlarged across, not reduced at all
        ],
    )
    def test_same_pixels_as_full_size_conversion(
        self, mode: str, box: tuple[float, float, float, float], size: tuple[int, int]
    ) -> None:
        noise = Image.effect_noise((1500, 1000), 70)
        flipped, mirrored = (
            noise.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
            noise.transpose(Image.Transpose.ROTATE_180),
        )
        im = {
            "RGBA": Image.merge("RGBA", [noise, flipped, mirrored, noise.point(lambda v: 255 - v)]),
            "LA": Image.merge("LA", [noise, flipped]),
            "P": Image.merge("RGB", [noise, flipped, mirrored]).convert("P"),
            "I;16": noise.convert("I").point(lambda v: v * 251).convert("I;16"),
            "RGB": Image.merge("RGB", [noise, flipped, mirrored]),
            "L": noise,
            "CMYK": Image.merge("CMYK", [noise, flipped, mirrored, noise]),
        }[mode]
        alpha = mode in ("RGBA", "LA")
        expected = to_working_mode(im, alpha).resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=REDUCING_GAP)
        actual = _resample(im, box, size, alpha, 1 / 257 if mode == "I;16" else 1.0, strip_bytes=40_000)  # ~10 rows
        assert actual.mode == expected.mode
        if box == (300.0, 200.0, 900.0, 700.0):  # no reduction: Pillow's pass order depends on the input's size
            space = {"RGBA": "RGBa", "LA": "La"}.get(expected.mode, expected.mode)  # alpha: compare premultiplied
            difference = ImageChops.difference(actual.convert(space), expected.convert(space))
            assert max(ImageStat.Stat(difference).mean) < 1.5  # rounding only; a window one pixel off gives ~30
        else:
            assert actual.tobytes() == expected.tobytes()


class TestDecodePool:
    @staticmethod
    def peak_running(pool: DecodePool, sizes: list[int]) -> int:
        inside, peak, lock = 0, 0, threading.Lock()

        def work(size: int) -> None:
            nonlocal inside, peak
            with pool.reserve(size):
                with lock:
                    inside += 1
                    peak = max(peak, inside)
                time.sleep(0.05)
                with lock:
                    inside -= 1

        threads = [threading.Thread(target=work, args=(size,)) for size in sizes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return peak

    def test_small_decodes_share_the_slots(self) -> None:
        assert self.peak_running(DecodePool(capacity=100, slots=2), [10] * 6) == 2

    def test_large_decodes_take_turns(self) -> None:
        assert self.peak_running(DecodePool(capacity=100, slots=2), [60] * 4) == 1

    def test_a_decode_larger_than_the_pool_runs_alone_rather_than_never(self) -> None:
        assert self.peak_running(DecodePool(capacity=100, slots=2), [150, 150]) == 1

    def test_the_process_pool(self) -> None:
        assert (_pool.capacity, _pool.slots) == (DECODE_POOL_BYTES, MAX_CONCURRENT_DECODES)
        assert DECODE_POOL_BYTES < 2 * MAX_DECODE_BYTES  # two of the largest images never decode at once
        with decode_slot(MAX_DECODE_BYTES):
            pass

    def test_concurrent_fits_all_finish_correctly(self, tmp_path: Path) -> None:
        results: list[Size] = []

        def fit(index: int) -> None:
            outcome = fit_image(encode(quadrants(1200 + index, 900), "PNG"), TARGET, tmp_path / str(index))
            results.append(outcome.size)

        threads = [threading.Thread(target=fit, args=(i,)) for i in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [Size(1280, 720)] * 5


class TestOwnWords:
    """Pillow's messages name its internals (and sometimes paths); the agent reads our limit and fix instead."""

    def test_oversized_text_metadata(self, tmp_path: Path) -> None:
        info = PngImagePlugin.PngInfo()
        info.add_text("comment", "a" * 2_000_000, zip=True)  # 2 KB on disk, 2 MB unpacked
        buffer = io.BytesIO()
        quadrants(40, 30).save(buffer, "PNG", pnginfo=info)
        message = refusal(buffer.getvalue(), tmp_path)
        assert "text metadata (PNG text chunks) is larger than 1 MB uncompressed" in message
        assert "Re-save the image without its metadata" in message
        assert not any(word in message for word in PILLOW_WORDS)

    def test_corrupt_compressed_data(self, tmp_path: Path) -> None:
        data = bytearray(encode(Image.effect_noise((300, 200), 60).convert("RGB"), "PNG"))
        start = data.index(b"IDAT") + 60
        data[start : start + 20] = b"\xff" * 20
        message = refusal(bytes(data), tmp_path)
        assert message == "the image could not be decoded: its compressed image data is corrupt"

    def test_bomb(self, tmp_path: Path) -> None:
        message = refusal(png_claiming(60_000, 60_000, 8, 2), tmp_path)
        assert "3600 MP; the limit is 250 MP for JPEG and 100 MP for other formats" in message
        assert not any(word in message for word in PILLOW_WORDS)

    def test_unidentified_file_names_only_the_file(self, tmp_path: Path) -> None:
        path = tmp_path / "deep" / "folder" / "notes.png"
        path.parent.mkdir(parents=True)
        path.write_text("not an image")
        with pytest.raises(ImageInputError) as err:
            fit_image(path, TARGET, tmp_path)
        assert str(err.value).startswith("'notes.png' is not an image in a supported format")
        assert str(tmp_path) not in str(err.value) and "cannot identify" not in str(err.value)

    def test_image_errors_carry_stage_and_code(self) -> None:
        error = ImageInputError("x", param="crop.left")
        info = error.problem()
        assert (info.stage, info.code, info.param, info.message) == ("image", "invalid_image", "crop.left", "x")
        assert isinstance(error, ValueError)
