"""`fit_reference_image` through a real in-memory MCP client, in both protocol eras: files on disk, the
preview, structured content, roots, and error bodies an agent can act on."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ImageContent, ListRootsResult, Root, TextContent
from PIL import Image

from sora_mcp.portable_schema import portability_problems
from sora_mcp.runtime import Runtime
from sora_mcp.settings import Settings
from sora_mcp.tooling import build_tool
from sora_mcp.tools import images
from tests.test_fit_corpus import RED, close, corner_colour, encode, oriented_jpeg, quadrants

pytestmark = pytest.mark.anyio

ERAS = ["auto", "legacy"]


@pytest.fixture
def server(sandbox_settings: Settings) -> MCPServer:
    runtime = Runtime.create(sandbox_settings)
    return MCPServer("t", tools=[build_tool(s) for s in images.specs(runtime)])


@pytest.fixture
def photo(isolated_environment: Path) -> Path:
    path = isolated_environment / "Pictures" / "phone.jpg"
    path.parent.mkdir()
    path.write_bytes(oriented_jpeg(6, 400, 300))  # stored portrait, upright landscape
    return path


def text_of(result: CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


async def call(server: MCPServer, era: str, args: dict[str, Any], **client: Any) -> CallToolResult:
    async with Client(server, mode=era, **client) as c:
        return await c.call_tool("fit_reference_image", args)


def test_published_schemas_are_portable(sandbox_settings: Settings) -> None:
    tool = build_tool(images.specs(Runtime.create(sandbox_settings))[0])
    assert portability_problems(tool.parameters) == []
    assert tool.fn_metadata.output_schema is not None
    assert portability_problems(tool.fn_metadata.output_schema) == []
    assert set(tool.parameters["properties"]) == {
        "image", "size", "model", "mode", "background", "crop", "format", "quality"
    }  # fmt: skip
    assert tool.parameters["required"] == ["image"]
    annotations = tool.annotations
    assert annotations is not None
    assert (annotations.read_only_hint, annotations.idempotent_hint) == (False, True)
    assert (annotations.destructive_hint, annotations.open_world_hint) == (False, False)


@pytest.mark.parametrize("era", ERAS)
async def test_fits_a_photo_and_returns_path_data_and_preview(
    server: MCPServer, photo: Path, sandbox_settings: Settings, era: str
) -> None:
    result = await call(server, era, {"image": str(photo), "size": "1280x720", "mode": "cover"})
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data is not None
    path = Path(data["path"])
    assert path.is_file() and path.is_relative_to(sandbox_settings.output_dir.resolve())
    assert str(path) in text_of(result)
    with Image.open(path) as im:
        assert im.size == (1280, 720) and im.format == "JPEG"
        assert close(corner_colour(im, "top_left"), RED)  # EXIF orientation 6 applied
    assert data["size"] == "1280x720" and (data["width"], data["height"]) == (1280, 720)
    assert data["format"] == "jpeg" and data["bytes"] == path.stat().st_size
    assert data["source"] == {"format": "JPEG", "width": 400, "height": 300, "orientation": 6}
    assert data["crop_box"] == {"left": 0.0, "top": 37.5, "right": 400.0, "bottom": 262.5}
    assert data["padding"] == {"left": 0, "top": 0, "right": 0, "bottom": 0}
    assert data["scale"] == pytest.approx(3.2)
    assert any("EXIF orientation 6" in s for s in data["steps"])
    assert not data["passed_through"] and not data["reused"]
    preview = result.content[1]
    assert isinstance(preview, ImageContent) and preview.mime_type == "image/jpeg"
    with Image.open(io.BytesIO(base64.b64decode(preview.data))) as thumb:
        assert thumb.size == (320, 180)
        assert close(corner_colour(thumb, "top_left"), RED)
    assert len(result.model_dump_json()) < 100_000


@pytest.mark.parametrize("era", ERAS)
async def test_second_identical_call_reuses_the_file(server: MCPServer, photo: Path, era: str) -> None:
    args = {"image": str(photo), "size": "720x1280", "mode": "pad", "background": "#ffffff"}
    first = await call(server, era, args)
    second = await call(server, era, args)
    assert first.structured_content and second.structured_content
    assert second.structured_content["path"] == first.structured_content["path"]
    assert second.structured_content["reused"] is True
    assert second.structured_content["padding"]["top"] > 0
    assert text_of(second).startswith("Reused the identical earlier result")


@pytest.mark.parametrize("era", ERAS)
async def test_data_url_and_crop_and_format(server: MCPServer, era: str) -> None:
    png = encode(quadrants(200, 100), "PNG")
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    crop = {"left": 0, "top": 0, "right": 0.5, "bottom": 0.5}
    result = await call(server, era, {"image": url, "size": "1280x720", "crop": crop, "format": "webp"})
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    path = Path(result.structured_content["path"])
    with Image.open(path) as im:
        assert im.format == "WEBP" and im.size == (1280, 720)
        for corner in ("top_left", "bottom_right"):
            assert close(corner_colour(im, corner), RED, tolerance=25)
    assert path.name.startswith("image-1280x720-cover-")


@pytest.mark.parametrize("era", ERAS)
async def test_model_without_size_picks_the_models_size_for_the_photos_orientation(
    server: MCPServer, photo: Path, era: str
) -> None:
    result = await call(server, era, {"image": str(photo), "model": "sora-2"})
    assert result.structured_content is not None, text_of(result)
    assert result.structured_content["size"] == "1280x720"  # upright landscape, though stored portrait
    assert result.structured_content["model"] == "sora-2"
    assert "no size given: chose 1280x720" in text_of(result)


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"size": "1920x1080"}, "size 1920x1080 is not a legal video size: models of profile 'apiyi' take 1280x720"),
        ({"size": "big"}, "size 'big' is not WIDTHxHEIGHT. Legal sizes: 1280x720"),
        ({"model": "sora-2", "size": "1792x1024"}, "sora-2 takes 1280x720, 720x1280"),
        ({"model": "sora-9"}, "Unknown model 'sora-9'. Models of profile 'apiyi': sora-2, sora-2-pro"),
        ({}, "Give size (one of 1280x720"),
        ({"size": "1280x720", "background": "red"}, "background 'red' is not a colour of the form #rrggbb"),
        ({"size": "1280x720", "quality": 101}, "'quality' must be at most 100, got 101"),
        ({"size": "1280x720", "crop": {"left": 0.6, "right": 0.4}}, "crop left=0.6 must be less than right=0.4"),
    ],
)
async def test_bad_arguments_are_answered_with_the_fix(
    server: MCPServer, photo: Path, era: str, args: dict[str, Any], message: str
) -> None:
    result = await call(server, era, {"image": str(photo), **args})
    assert result.is_error
    assert message in text_of(result)


@pytest.mark.parametrize("era", ERAS)
async def test_bad_images_are_errors_and_the_server_keeps_serving(
    server: MCPServer, isolated_environment: Path, tmp_path_factory: pytest.TempPathFactory, era: str
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "x.jpg"
    elsewhere.write_bytes(encode(quadrants(30, 20), "JPEG"))
    (isolated_environment / "notes.png").write_text("hello")
    (isolated_environment / "cut.jpg").write_bytes(encode(Image.effect_noise((300, 200), 50), "JPEG")[:700])
    cases = {
        str(elsewhere): "is not inside the directories images may be read from",
        "notes.png": "is not an image in a supported format",
        "cut.jpg": "truncated",
        "https://example.com/a.jpg": "does not download",
        "data:image/png;base64,@@@": "not valid base64",
    }
    async with Client(server, mode=era) as c:
        for image, message in cases.items():
            result = await c.call_tool("fit_reference_image", {"image": image, "size": "1280x720"})
            assert result.is_error, image
            assert message in text_of(result), text_of(result)
        good = encode(quadrants(30, 20), "PNG")
        ok = await c.call_tool(
            "fit_reference_image",
            {"image": "data:image/png;base64," + base64.b64encode(good).decode(), "size": "1280x720"},
        )
        assert not ok.is_error


@pytest.mark.parametrize("era", ERAS)
async def test_client_roots_replace_the_configured_dirs(
    server: MCPServer, isolated_environment: Path, photo: Path, era: str
) -> None:
    """The client declares only ~/project: a photo elsewhere in the (configured) home is now out of reach."""
    project = isolated_environment / "project"
    project.mkdir()
    inside = project / "ok.png"
    inside.write_bytes(encode(quadrants(40, 30), "PNG"))
    asked: list[bool] = []

    async def list_roots(context: object) -> ListRootsResult:
        asked.append(True)
        return ListRootsResult(roots=[Root(uri=project.as_uri(), name="project")])  # type: ignore[arg-type]

    async with Client(server, mode=era, list_roots_callback=list_roots) as c:
        refused = await c.call_tool("fit_reference_image", {"image": str(photo), "size": "1280x720"})
        accepted = await c.call_tool("fit_reference_image", {"image": "ok.png", "size": "1280x720"})
    assert asked
    assert refused.is_error
    assert f"not inside the directories images may be read from: {project.resolve()} (the client's roots)" in text_of(
        refused
    )
    assert not accepted.is_error, text_of(accepted)


@pytest.mark.parametrize("era", ERAS)
async def test_without_roots_the_configured_dirs_apply(server: MCPServer, photo: Path, era: str) -> None:
    result = await call(server, era, {"image": str(photo), "size": "1280x720"})
    assert not result.is_error


async def test_a_legal_frame_passes_through(server: MCPServer, isolated_environment: Path) -> None:
    frame = isolated_environment / "frame.png"
    frame.write_bytes(encode(quadrants(1280, 720), "PNG"))
    result = await call(server, "auto", {"image": str(frame), "size": "1280x720"})
    assert result.structured_content is not None
    assert result.structured_content["passed_through"] is True
    assert Path(result.structured_content["path"]).read_bytes() == frame.read_bytes()
    assert text_of(result).startswith("Already a legal frame, copied unchanged")
