"""Every bad input gets a clear error naming the problem and the limit: paths outside the allowed folders
(also through symlinks), special files, oversized files and data URLs, bombs, truncation, non-images."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from PIL import Image

from sora_mcp.imaging import FitRequest, ImageInputError, fit_image, read_image_input
from sora_mcp.imaging.decode import MAX_PIXELS, MAX_SIDE
from sora_mcp.imaging.inputs import check_image_file, decode_data_url, dirs_from_roots
from sora_mcp.sizes import Size
from tests.test_fit_corpus import encode, jpeg_header, png_header, quadrants

TARGET = FitRequest(Size(1280, 720))


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    folder = tmp_path / "allowed"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(encode(quadrants(60, 40), "JPEG"))
    return folder


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "secret"
    folder.mkdir()
    (folder / "private.jpg").write_bytes(encode(quadrants(60, 40), "JPEG"))
    return folder


def data_url(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def fails(source: Path | bytes, message: str) -> None:
    with pytest.raises(ImageInputError, match=message):
        fit_image(source, TARGET, Path("/nonexistent-never-written"))


class TestPaths:
    def test_absolute_path_inside_an_allowed_dir(self, allowed: Path) -> None:
        assert read_image_input(str(allowed / "photo.jpg"), [allowed]) == (allowed / "photo.jpg").resolve()

    def test_relative_path_is_looked_up_in_the_allowed_dirs(self, allowed: Path, outside: Path) -> None:
        assert read_image_input("photo.jpg", [outside, allowed]) == (allowed / "photo.jpg").resolve()

    def test_file_url_and_quotes(self, allowed: Path) -> None:
        path = (allowed / "photo.jpg").resolve()
        assert read_image_input(f"file://{path}", [allowed]) == path
        assert read_image_input(f"  '{path}' ", [allowed]) == path

    def test_path_outside_is_refused_with_the_allowed_list(self, allowed: Path, outside: Path) -> None:
        with pytest.raises(
            ImageInputError, match=r"is not inside the directories images may be read from: .*allowed"
        ) as err:
            read_image_input(str(outside / "private.jpg"), [allowed], allowed_origin="SORA_MCP_ALLOWED_DIRS")
        assert "SORA_MCP_ALLOWED_DIRS" in str(err.value)

    def test_dot_dot_cannot_climb_out(self, allowed: Path, outside: Path) -> None:
        with pytest.raises(ImageInputError, match="is not inside the directories"):
            read_image_input("../secret/private.jpg", [allowed])

    def test_symlink_pointing_outside_is_refused_without_naming_its_target(self, allowed: Path, outside: Path) -> None:
        link = allowed / "innocent.jpg"
        link.symlink_to(outside / "private.jpg")
        with pytest.raises(ImageInputError, match=r"'.*innocent\.jpg' is not inside") as err:
            read_image_input(str(link), [allowed])
        assert "private" not in str(err.value) and "secret" not in str(err.value)

    def test_symlinked_directory_pointing_outside_is_refused(self, allowed: Path, outside: Path) -> None:
        (allowed / "shortcut").symlink_to(outside, target_is_directory=True)
        with pytest.raises(ImageInputError, match="is not inside") as err:
            read_image_input(str(allowed / "shortcut" / "private.jpg"), [allowed])
        assert "secret" not in str(err.value)

    def test_symlink_inside_is_fine_and_resolved(self, allowed: Path) -> None:
        (allowed / "alias.jpg").symlink_to(allowed / "photo.jpg")
        assert read_image_input(str(allowed / "alias.jpg"), [allowed]) == (allowed / "photo.jpg").resolve()

    def test_allowed_dir_given_through_a_symlink(self, allowed: Path, tmp_path: Path) -> None:
        (tmp_path / "link-to-allowed").symlink_to(allowed, target_is_directory=True)
        found = read_image_input(str(allowed / "photo.jpg"), [tmp_path / "link-to-allowed"])
        assert isinstance(found, Path) and found.name == "photo.jpg"

    def test_missing_file(self, allowed: Path) -> None:
        with pytest.raises(ImageInputError, match="does not exist"):
            read_image_input(str(allowed / "nope.jpg"), [allowed])
        with pytest.raises(ImageInputError, match="was not found in the allowed directories"):
            read_image_input("nope.jpg", [allowed])

    def test_directory(self, allowed: Path) -> None:
        with pytest.raises(ImageInputError, match="is a directory"):
            read_image_input(str(allowed), [allowed])

    def test_fifo_is_refused_before_anything_blocks_on_it(self, allowed: Path) -> None:
        fifo = allowed / "pipe.jpg"
        os.mkfifo(fifo)
        with pytest.raises(ImageInputError, match="not a regular file"):
            read_image_input(str(fifo), [allowed])

    def test_empty_file(self, allowed: Path) -> None:
        (allowed / "empty.png").write_bytes(b"")
        with pytest.raises(ImageInputError, match=r"is empty \(0 bytes\)"):
            read_image_input(str(allowed / "empty.png"), [allowed])

    def test_oversized_file_names_the_limit(self, allowed: Path) -> None:
        with pytest.raises(ImageInputError, match=r"the limit is 0\.0 MB"):
            read_image_input(str(allowed / "photo.jpg"), [allowed], max_file_bytes=100)
        with pytest.raises(ImageInputError, match=r"limit is 0\.0 MB"):
            check_image_file(allowed / "photo.jpg", max_file_bytes=100)

    @pytest.mark.parametrize("url", ["https://example.com/cat.jpg", "http://x/y.png"])
    def test_web_urls_are_not_fetched(self, url: str, allowed: Path) -> None:
        with pytest.raises(ImageInputError, match="does not download"):
            read_image_input(url, [allowed])

    def test_empty_and_nul(self, allowed: Path) -> None:
        with pytest.raises(ImageInputError, match="image is empty"):
            read_image_input("   ", [allowed])
        with pytest.raises(ImageInputError, match="NUL"):
            read_image_input("photo\x00.jpg", [allowed])

    def test_no_allowed_dirs(self) -> None:
        with pytest.raises(ImageInputError, match="no directories are allowed"):
            read_image_input("/tmp/x.jpg", [])

    def test_roots_to_dirs(self) -> None:
        uris = ["file:///home/me/project", "file://localhost/srv/My%20Pics", "https://example.com/", "file://h/x"]
        assert dirs_from_roots(uris) == (Path("/home/me/project"), Path("/srv/My Pics"))


class TestDataUrls:
    def test_round_trip(self, allowed: Path) -> None:
        png = encode(quadrants(30, 20), "PNG")
        assert read_image_input(data_url(png), [allowed]) == png
        assert decode_data_url(data_url(png, "image/jpeg").replace(";base64", ";charset=x;base64")) == png

    def test_line_breaks_and_missing_padding_are_tolerated(self) -> None:
        png = encode(quadrants(31, 20), "PNG")
        text = base64.b64encode(png).decode().rstrip("=")
        wrapped = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
        assert decode_data_url("data:image/png;base64," + wrapped) == png

    def test_oversized_data_url_is_refused_before_decoding(self) -> None:
        big = "data:image/png;base64," + "A" * 4_000_000
        with pytest.raises(ImageInputError, match=r"carries about 2\.9 MB; the limit is 1\.0 MB"):
            decode_data_url(big, max_bytes=1024 * 1024)

    @pytest.mark.parametrize(
        ("url", "message"),
        [
            ("data:image/png,rawbytes", "not base64-encoded"),
            ("data:text/plain;base64,aGVsbG8=", "media type 'text/plain'; expected an image"),
            ("data:image/png;base64,!!!notbase64!!!", "not valid base64"),
            ("data:image/png;base64,", "empty"),
            ("data:image/png;base64", "malformed data: URL"),
        ],
    )
    def test_bad_data_urls(self, url: str, message: str) -> None:
        with pytest.raises(ImageInputError, match=message):
            decode_data_url(url)

    def test_data_url_that_is_not_an_image(self, tmp_path: Path) -> None:
        data = decode_data_url(data_url(b"just some text, not pixels"))
        with pytest.raises(ImageInputError, match="not an image in a supported format"):
            fit_image(data, TARGET, tmp_path)


class TestImageContent:
    def test_decompression_bomb_png(self) -> None:
        fails(png_header(15_000, 10_000), rf"15000x10000 = 150 MP; the limit for PNG is {MAX_PIXELS // 1_000_000} MP")

    def test_decompression_bomb_beyond_pillows_own_limit(self) -> None:
        fails(jpeg_header(60_000, 60_000), r"3600 MP; the limit is 250 MP for JPEG and 100 MP for other formats")

    def test_absurd_side(self) -> None:
        fails(png_header(MAX_SIDE + 1, 1), rf"sides longer than {MAX_SIDE} pixels are not accepted")

    @pytest.mark.parametrize(("width", "height"), [(0, 10), (10, 0)])
    def test_zero_dimension(self, width: int, height: int) -> None:
        fails(png_header(width, height), rf"PNG of {width}x{height} pixels: zero width or height")

    @pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
    def test_truncated(self, fmt: str, tmp_path: Path) -> None:
        data = encode(Image.effect_noise((200, 150), 60).convert("RGB"), fmt)
        (tmp_path / "cut").write_bytes(data[: len(data) // 2])
        fails(tmp_path / "cut", "truncated or corrupt")

    def test_truncated_inside_the_header(self) -> None:
        fails(encode(quadrants(300, 200), "JPEG")[:300], "truncated")

    def test_not_an_image(self, tmp_path: Path) -> None:
        (tmp_path / "notes.jpg").write_text("dear diary")
        fails(tmp_path / "notes.jpg", r"'notes\.jpg' is not an image in a supported format \(JPEG, PNG, WebP")

    @pytest.mark.parametrize(
        ("head", "label"),
        [
            (b"%PDF-1.7\n...", "PDF"),
            (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "HEIC"),
            (b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00", "an MP4 video"),
            (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "SVG"),
            (b"8BPS\x00\x01", r"Photoshop \(PSD\)"),
        ],
    )
    def test_unsupported_formats_are_named(self, head: bytes, label: str) -> None:
        fails(head + b"\x00" * 64, rf"is {label}.*not supported")

    def test_a_format_pillow_reads_but_we_do_not(self) -> None:
        fails(encode(quadrants(32, 32), "ICO"), "is ICO, a format that is not supported")

    def test_the_engine_keeps_working_after_every_failure(self, tmp_path: Path) -> None:
        for bad in (b"junk", png_header(0, 1), jpeg_header(60_000, 60_000)):
            with pytest.raises(ImageInputError):
                fit_image(bad, TARGET, tmp_path)
        assert fit_image(encode(quadrants(30, 20), "PNG"), TARGET, tmp_path).width == 1280


class TestRequestValidation:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"background": "black"}, "background 'black' is not a colour of the form #rrggbb"),
            ({"background": "#12345"}, "#rrggbb"),
            ({"quality": 0}, "quality 0 must be a whole number from 1 to 100"),
            ({"quality": 101}, "from 1 to 100"),
            ({"mode": "fill"}, "mode 'fill' is not one of pad, cover, stretch"),
            ({"format": "gif"}, "format 'gif' is not one of jpeg, png, webp"),
        ],
    )
    def test_bad_requests(self, kwargs: dict[str, object], message: str) -> None:
        with pytest.raises(ImageInputError, match=message):
            FitRequest(Size(1280, 720), **kwargs)  # type: ignore[arg-type]
