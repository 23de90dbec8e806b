"""The generated image corpus for the fit tests, and checks that the corpus itself means what it claims.

Everything is built here with Pillow (nothing downloaded). The orientation JPEGs are constructed from the
EXIF specification's row/column table, independently of the engine, and verified against Pillow's own
`ImageOps.exif_transpose`, so an engine that got orientation wrong cannot agree with both.
"""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageCms, ImageOps

# Quadrant colours of the upright picture: a marker per corner.
RED = (230, 20, 20)
GREEN = (20, 200, 40)
BLUE = (20, 40, 230)
YELLOW = (240, 230, 20)
CORNERS = {"top_left": RED, "top_right": GREEN, "bottom_left": BLUE, "bottom_right": YELLOW}


def quadrants(width: int, height: int) -> Image.Image:
    """An upright picture whose four quadrants carry the corner colours."""
    im = Image.new("RGB", (width, height))
    half_w, half_h = width // 2, height // 2
    im.paste(RED, (0, 0, half_w, half_h))
    im.paste(GREEN, (half_w, 0, width, half_h))
    im.paste(BLUE, (0, half_h, half_w, height))
    im.paste(YELLOW, (half_w, half_h, width, height))
    return im


def stored_for_orientation(upright: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera stores so that a viewer applying `orientation` shows `upright`.

    From the EXIF table: for each orientation, which visual side row 0 and column 0 of the stored image
    are. Written pixel by pixel from that table, not with Pillow's transpose constants.
    """
    vw, vh = upright.size
    transposed = orientation in (5, 6, 7, 8)
    rw, rh = (vh, vw) if transposed else (vw, vh)
    stored = Image.new("RGB", (rw, rh))
    src = upright.load()
    dst = stored.load()
    assert src is not None and dst is not None
    for y in range(vh):
        for x in range(vw):
            if orientation == 1:
                rx, ry = x, y
            elif orientation == 2:  # row 0 = top, column 0 = right
                rx, ry = vw - 1 - x, y
            elif orientation == 3:  # row 0 = bottom, column 0 = right
                rx, ry = vw - 1 - x, vh - 1 - y
            elif orientation == 4:  # row 0 = bottom, column 0 = left
                rx, ry = x, vh - 1 - y
            elif orientation == 5:  # row 0 = left, column 0 = top
                rx, ry = y, x
            elif orientation == 6:  # row 0 = right, column 0 = top
                rx, ry = y, vw - 1 - x
            elif orientation == 7:  # row 0 = right, column 0 = bottom
                rx, ry = vh - 1 - y, vw - 1 - x
            else:  # 8: row 0 = left, column 0 = bottom
                rx, ry = vh - 1 - y, x
            dst[rx, ry] = src[x, y]
    return stored


def encode(im: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, fmt, **options)
    return buffer.getvalue()


def oriented_jpeg(orientation: int, width: int = 60, height: int = 40) -> bytes:
    """A JPEG whose upright picture is `quadrants(width, height)`, stored rotated/mirrored with the EXIF tag."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored = stored_for_orientation(quadrants(width, height), orientation)
    return encode(stored, "JPEG", quality=95, exif=exif.tobytes())


def corner_colour(im: Image.Image, corner: str, inset: float = 0.12) -> tuple[int, int, int]:
    """Colour near a corner (inset by a fraction of the size, away from blurred edges)."""
    w, h = im.size
    x = int(w * inset) if "left" in corner else int(w * (1 - inset)) - 1
    y = int(h * inset) if "top" in corner else int(h * (1 - inset)) - 1
    pixel = im.convert("RGB").getpixel((x, y))
    assert isinstance(pixel, tuple)
    return (int(pixel[0]), int(pixel[1]), int(pixel[2]))


def close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def cmyk_jpeg(width: int = 64, height: int = 48) -> bytes:
    """Left half CMYK red (M+Y), right half CMYK cyan."""
    im = Image.new("CMYK", (width, height), (0, 255, 255, 0))
    im.paste((255, 0, 0, 0), (width // 2, 0, width, height))
    return encode(im, "JPEG", quality=95)


def png16(width: int = 64, height: int = 48) -> bytes:
    """16-bit greyscale: left half 65535 (white), right half 32768 (mid grey, 128 in 8 bits, not 255)."""
    im = Image.new("I;16", (width, height), 65535)
    im.paste(Image.new("I;16", (width - width // 2, height), 32768), (width // 2, 0))
    return encode(im, "PNG")


def palette_png_with_transparency(width: int = 64, height: int = 48) -> bytes:
    """Palette image: left half index 0 (transparent), right half index 1 (green)."""
    im = Image.new("P", (width, height), 0)
    im.putpalette([0, 0, 0, *GREEN] + [0] * (256 * 3 - 6))
    im.paste(1, (width // 2, 0, width, height))
    return encode(im, "PNG", transparency=0)


def la_png(width: int = 64, height: int = 48) -> bytes:
    """Greyscale + alpha: white, left half fully transparent."""
    im = Image.new("LA", (width, height), (255, 255))
    im.paste((255, 0), (0, 0, width // 2, height))
    return encode(im, "PNG")


def animated_gif(width: int = 48, height: int = 32) -> bytes:
    """Two frames: red, then blue; only the first may be used."""
    frames = [Image.new("RGB", (width, height), RED), Image.new("RGB", (width, height), BLUE)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ \0\0\0\0" + _s15(x) + _s15(y) + _s15(z)


def _curve(gamma: float) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"


def _desc(text: str) -> bytes:
    ascii_text = text.encode() + b"\0"
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_text)) + ascii_text + b"\0" * 8 + b"\0\0\0" + b"\0" * 67


SRGB_RED_D50 = (0.4361, 0.2225, 0.0139)
SRGB_GREEN_D50 = (0.3851, 0.7169, 0.0971)
SRGB_BLUE_D50 = (0.1431, 0.0606, 0.7141)


def swapped_icc_profile(name: str = "Swapped red-blue test profile") -> bytes:
    """A valid ICC v2 matrix/TRC RGB profile whose red and blue primaries are exchanged.

    A pixel stored as (230, 20, 20) under this profile is really blue: an engine that ignores the profile
    leaves it red, one that converts to sRGB makes it blue.
    """
    tags = [
        (b"desc", _desc(name)),
        (b"wtpt", _xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", _xyz(*SRGB_BLUE_D50)),
        (b"gXYZ", _xyz(*SRGB_GREEN_D50)),
        (b"bXYZ", _xyz(*SRGB_RED_D50)),
        (b"rTRC", _curve(2.2)),
        (b"gTRC", _curve(2.2)),
        (b"bTRC", _curve(2.2)),
        (b"cprt", b"text\0\0\0\0none\0"),
    ]
    first = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        data += b"\0" * (-(first + len(data)) % 4)
        table += signature + struct.pack(">II", first + len(data), len(body))
        data += body
    header = (
        struct.pack(">I", first + len(data))
        + b"\0\0\0\0"
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 28
        + _s15(0.9642)
        + _s15(1.0)
        + _s15(0.8249)
        + b"\0" * 48
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


def srgb_icc_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` (for bomb, zero and absurd-size tests)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def jpeg_header(width: int, height: int) -> bytes:
    """A JPEG whose SOF claims `width` x `height`, followed by a few bytes of nothing."""
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    sos = struct.pack(">B", 3) + b"\x01\x00\x02\x11\x03\x11" + b"\x00\x3f\x00"
    return (
        b"\xff\xd8"
        + b"\xff\xc0"
        + struct.pack(">H", len(sof) + 2)
        + sof
        + b"\xff\xda"
        + struct.pack(">H", len(sos) + 2)
        + sos
        + b"\x00" * 32
        + b"\xff\xd9"
    )


# The corpus is only as good as these checks.


@pytest.mark.parametrize("orientation", range(1, 9))
def test_oriented_jpegs_agree_with_pillows_exif_transpose(orientation: int) -> None:
    with Image.open(io.BytesIO(oriented_jpeg(orientation))) as im:
        assert im.getexif()[0x0112] == orientation
        upright = ImageOps.exif_transpose(im)
    assert upright.size == (60, 40)
    for corner, colour in CORNERS.items():
        assert close(corner_colour(upright, corner), colour), (orientation, corner)


def test_swapped_profile_turns_red_into_blue_under_littlecms() -> None:
    profile = ImageCms.ImageCmsProfile(io.BytesIO(swapped_icc_profile()))
    converted = ImageCms.profileToProfile(
        Image.new("RGB", (2, 2), RED), profile, ImageCms.createProfile("sRGB"), outputMode="RGB"
    )
    assert converted is not None
    assert close(corner_colour(converted, "top_left"), (10, 10, 230), tolerance=50)


def test_sixteen_bit_png_really_holds_sixteen_bit_values() -> None:
    with Image.open(io.BytesIO(png16())) as im:
        assert im.mode == "I;16"
        assert im.getpixel((0, 0)) == 65535 and im.getpixel((63, 0)) == 32768


def test_forged_headers_claim_their_sizes() -> None:
    with Image.open(io.BytesIO(png_header(300, 200))) as im:
        assert im.size == (300, 200)
    with Image.open(io.BytesIO(jpeg_header(300, 200))) as im:
        assert im.size == (300, 200)
