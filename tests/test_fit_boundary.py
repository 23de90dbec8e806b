"""`fit_reference_image` against hostile clients and arguments, through the real in-memory MCP client in both
protocol eras: roots are a boundary (never a hint), errors do not reveal what lies outside it, and strict-mode
placeholders mean "not given"."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, ErrorData, ListRootsResult, Root, TextContent

from sora_mcp.imaging.inputs import read_image_input
from sora_mcp.runtime import Runtime
from sora_mcp.settings import Settings
from sora_mcp.tooling import build_tool
from sora_mcp.tools import images
from tests.test_fit_corpus import encode, quadrants

pytestmark = pytest.mark.anyio

ERAS = ["auto", "legacy"]
SIZE = "1280x720"


@pytest.fixture
def server(sandbox_settings: Settings) -> MCPServer:
    runtime = Runtime.create(sandbox_settings)
    return MCPServer("t", tools=[build_tool(s) for s in images.specs(runtime)])


@pytest.fixture
def photo(isolated_environment: Path) -> Path:
    """A picture inside the configured folder (the test's home), which a client's roots must still shut out."""
    path = isolated_environment / "Pictures" / "holiday.png"
    path.parent.mkdir()
    path.write_bytes(encode(quadrants(400, 300), "PNG"))
    return path


def text_of(result: CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def error_json(result: CallToolResult) -> dict[str, Any]:
    """The second text block of an error result: the same problem as JSON."""
    assert result.is_error and result.structured_content is None
    block = result.content[1]
    assert isinstance(block, TextContent)
    data: dict[str, Any] = json.loads(block.text)
    return data


def roots_answering(*uris: str) -> Any:
    async def list_roots(context: object) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=uri) for uri in uris])  # type: ignore[arg-type]

    return list_roots


async def fit(server: MCPServer, era: str, args: dict[str, Any], **client: Any) -> CallToolResult:
    async with Client(server, mode=era, **client) as c:
        return await c.call_tool("fit_reference_image", args)


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


class TestRootsAreABoundary:
    @pytest.mark.parametrize("era", ERAS)
    async def test_no_roots_means_no_image_file_at_all(self, server: MCPServer, photo: Path, era: str) -> None:
        """An empty list shuts out even the configured home directory; a data: URL still works."""
        refused = await fit(server, era, {"image": str(photo), "size": SIZE}, list_roots_callback=roots_answering())
        assert refused.is_error
        text = text_of(refused)
        assert text.startswith("Cannot fit the image: no image file may be read: the client declared roots but shares")
        assert "the client must share the image's folder as a root (file:///path/to/folder)" in text
        assert error_json(refused)["stage"] == "image"
        url = "data:image/png;base64," + base64.b64encode(photo.read_bytes()).decode()
        accepted = await fit(server, era, {"image": url, "size": SIZE}, list_roots_callback=roots_answering())
        assert not accepted.is_error, text_of(accepted)

    @pytest.mark.parametrize("era", ERAS)
    async def test_roots_on_other_hosts_name_no_folder(self, server: MCPServer, photo: Path, era: str) -> None:
        callback = roots_answering("file://nas.example/share/photos", "file://fileserver/Pictures")
        result = await fit(server, era, {"image": str(photo), "size": SIZE}, list_roots_callback=callback)
        assert result.is_error
        assert "the client's roots name no folder on this machine (file://nas.example/share/photos" in text_of(result)
        assert "only file:///path and file://localhost/path roots do" in text_of(result)

    @pytest.mark.parametrize("era", ERAS)
    async def test_a_localhost_root_counts(self, server: MCPServer, photo: Path, era: str) -> None:
        callback = roots_answering("file://nas.example/x", f"file://localhost{photo.parent}")
        result = await fit(server, era, {"image": "holiday.png", "size": SIZE}, list_roots_callback=callback)
        assert not result.is_error, text_of(result)

    @pytest.mark.parametrize(
        "answer",
        [ErrorData(code=-32000, message="roots are switched off"), RuntimeError("roots are switched off")],
        ids=["error-response", "raising-callback"],
    )
    async def test_a_failing_roots_list_is_a_tool_error_before_2026(
        self, server: MCPServer, photo: Path, answer: ErrorData | RuntimeError
    ) -> None:
        """Mid-call `roots/list` (<= 2025-11-25): the client's error becomes this call's error, not -32603."""

        async def list_roots(context: object) -> ListRootsResult | ErrorData:
            if isinstance(answer, RuntimeError):
                raise answer
            return answer

        async with Client(server, mode="legacy", list_roots_callback=list_roots) as c:
            result = await c.call_tool("fit_reference_image", {"image": str(photo), "size": SIZE})
            assert result.is_error
            text = text_of(result)
            assert (
                "the client declared roots, but it answered roots/list with an error (roots are switched off)" in text
            )
            assert "the client must share the image's folder as a root" in text
            again = await c.call_tool("fit_reference_image", {"image": str(photo), "size": SIZE})
            assert again.is_error  # the session survives and keeps answering

    async def test_a_failing_roots_list_ends_the_clients_own_call_from_2026(
        self, server: MCPServer, photo: Path
    ) -> None:
        """From 2026-07-28 roots travel in `input_required`: the client's refusal never reaches the server, so
        its own error (not a server protocol error) ends the call, and the server keeps serving."""

        async def list_roots(context: object) -> ErrorData:
            return ErrorData(code=-32000, message="roots are switched off")

        with pytest.raises(BaseException) as caught:
            await fit(server, "auto", {"image": str(photo), "size": SIZE}, list_roots_callback=list_roots)
        errors = [e for e in leaves(caught.value) if isinstance(e, MCPError)]
        assert [(e.error.code, e.error.message) for e in errors] == [(-32000, "roots are switched off")]
        result = await fit(server, "auto", {"image": str(photo), "size": SIZE})
        assert not result.is_error, text_of(result)


class TestNothingLeaksFromOutside:
    @pytest.mark.parametrize("era", ERAS)
    async def test_existing_and_missing_files_outside_get_the_same_answer(
        self, server: MCPServer, photo: Path, tmp_path_factory: pytest.TempPathFactory, era: str
    ) -> None:
        secret = tmp_path_factory.mktemp("root")
        (secret / ".ssh").mkdir()
        (secret / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----")
        texts = []
        for name in (".ssh/id_rsa", "nope", ".ssh/nope"):
            path = str(secret / name)
            result = await fit(server, era, {"image": path, "size": SIZE})
            assert result.is_error
            texts.append(text_of(result).replace(path, "PATH"))
        assert texts[0] == texts[1] == texts[2]
        assert "'PATH' is not inside the directories images may be read from: " in texts[0]
        assert str(secret) not in texts[0]

    @pytest.mark.parametrize("era", ERAS)
    async def test_symlink_targets_are_never_shown(
        self, server: MCPServer, photo: Path, tmp_path_factory: pytest.TempPathFactory, era: str
    ) -> None:
        secret = tmp_path_factory.mktemp("vault")
        (secret / "key.png").write_bytes(photo.read_bytes())
        links = photo.parent
        (links / "to-file.png").symlink_to(secret / "key.png")
        (links / "to-missing.png").symlink_to(secret / "gone.png")
        (links / "to-folder").symlink_to(secret, target_is_directory=True)
        texts = []
        for image in ("to-file.png", "to-missing.png", "to-folder/key.png", "to-folder/gone.png"):
            result = await fit(server, era, {"image": str(links / image), "size": SIZE})
            assert result.is_error
            text = text_of(result)
            assert "vault" not in text and "key.png" not in text.replace("to-folder/key.png", "")
            texts.append(text.replace(image, "NAME"))
        assert len(set(texts)) == 1

    def test_inside_an_allowed_folder_a_missing_file_may_be_named(self, photo: Path) -> None:
        with pytest.raises(ValueError, match=r"'.*Pictures/missing\.png' does not exist"):
            read_image_input(str(photo.parent / "missing.png"), [photo.parent])


class TestStrictModePlaceholders:
    """OpenAI's strict mode makes every property required, so models send '' and 0 for what they leave out."""

    PLACEHOLDERS: ClassVar[dict[str, Any]] = {
        "model": "",
        "mode": "",
        "background": "",
        "crop": {"left": 0, "top": 0, "right": 0, "bottom": 0},
        "format": "",
        "quality": 0,
    }

    @pytest.mark.parametrize("era", ERAS)
    async def test_every_placeholder_means_not_given(self, server: MCPServer, photo: Path, era: str) -> None:
        async with Client(server, mode=era) as c:
            omitted = await c.call_tool("fit_reference_image", {"image": str(photo), "size": SIZE})
            filled = await c.call_tool("fit_reference_image", {"image": str(photo), "size": SIZE, **self.PLACEHOLDERS})
            by_model = await c.call_tool("fit_reference_image", {"image": str(photo), "model": "sora-2"})
            model_only = await c.call_tool(
                "fit_reference_image", {"image": str(photo), **self.PLACEHOLDERS, "size": "", "model": "sora-2"}
            )
        assert not filled.is_error, text_of(filled)
        assert omitted.structured_content is not None and filled.structured_content is not None
        assert {**filled.structured_content, "reused": False} == {**omitted.structured_content, "reused": False}
        assert by_model.structured_content is not None and model_only.structured_content is not None
        assert model_only.structured_content["path"] == by_model.structured_content["path"]

    @pytest.mark.parametrize("era", ERAS)
    async def test_a_zero_right_or_bottom_means_the_far_edge(self, server: MCPServer, photo: Path, era: str) -> None:
        async with Client(server, mode=era) as c:
            partial = await c.call_tool(
                "fit_reference_image",
                {"image": str(photo), "size": SIZE, "crop": {"left": 0.5, "top": 0, "right": 0, "bottom": 0}},
            )
            explicit = await c.call_tool(
                "fit_reference_image", {"image": str(photo), "size": SIZE, "crop": {"left": 0.5}}
            )
        assert partial.structured_content is not None and explicit.structured_content is not None
        assert partial.structured_content["path"] == explicit.structured_content["path"]
        assert partial.structured_content["crop_box"]["left"] == 200

    @pytest.mark.parametrize("era", ERAS)
    async def test_errors_name_the_argument_at_fault(self, server: MCPServer, photo: Path, era: str) -> None:
        async with Client(server, mode=era) as c:
            crop = await c.call_tool(
                "fit_reference_image", {"image": str(photo), "size": SIZE, "crop": {"left": 1.5, "right": 1}}
            )
            missing = await c.call_tool("fit_reference_image", {"image": str(photo.parent / "x.png"), "size": SIZE})
        assert (error_json(crop)["param"], error_json(crop)["code"]) == ("crop.left", "invalid_image")
        assert error_json(missing)["param"] == "image" and "does not exist" in text_of(missing)

    @pytest.mark.parametrize("era", ERAS)
    async def test_an_empty_image_is_refused_clearly(self, server: MCPServer, era: str) -> None:
        result = await fit(server, era, {"image": "", "size": SIZE, **self.PLACEHOLDERS})
        assert result.is_error
        assert text_of(result).startswith("'image' must not be empty.")
        assert error_json(result)["param"] == "image"

    def test_the_published_schema_admits_the_placeholders(self, sandbox_settings: Settings) -> None:
        """What a strict-mode client publishes to its model: every property required, placeholders legal."""
        schema = build_tool(images.specs(Runtime.create(sandbox_settings))[0]).parameters
        strict = {**schema, "required": sorted(schema["properties"])}
        arguments = {"image": "/x.png", "size": "", **self.PLACEHOLDERS}
        jsonschema.Draft202012Validator(strict).validate(arguments)
        for name in ("size", "model", "background"):
            assert "minLength" not in schema["properties"][name]
        for name in ("mode", "format"):
            assert "" in schema["properties"][name]["enum"]
        for name, description in ((n, p["description"]) for n, p in schema["properties"].items()):
            if name != "image":
                assert "not given" in description, name
