"""`fit_reference_image`: turn any photo into a first frame the video API accepts (exactly the video's size).

The API rejects a reference image that is one pixel off (`Inpaint image must match the requested width and
height`), so agents need a tool that guarantees the size, and shows them the crop before they pay for a
render.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, ListRoots, Resolve
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp.types import CallToolResult, ImageContent, ListRootsRequest, ListRootsResult
from mcp.types.version import is_version_at_least
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sora_mcp.catalog import ModelSpec
from sora_mcp.errors import ToolError
from sora_mcp.imaging import (
    CropBox,
    FitMode,
    FitOutcome,
    FitRequest,
    ImageFormat,
    ImageInputError,
    read_image_input,
)
from sora_mcp.imaging.inputs import dirs_from_roots, local_root
from sora_mcp.runtime import Runtime
from sora_mcp.settings import Settings
from sora_mcp.sizes import Size, SizeError
from sora_mcp.tooling import ToolSpec, hints, ok

logger = logging.getLogger(__name__)

INPUT_REQUIRED_VERSION = "2026-07-28"
"""From this protocol revision on, roots are asked through `input_required`, not a mid-call request."""
ROOTS_TIMEOUT_SECONDS = 20.0
"""How long a call waits for the client's `roots/list` answer before treating the roots as unavailable."""

ModeArg = Literal["cover", "pad", "stretch", ""]
"""`FitMode`, plus "" as a strict-mode client's placeholder for "not given"."""
FormatArg = Literal["jpeg", "png", "webp", ""]
PLACEHOLDER_NOTE = "; '' (or 0) means not given"


class CropArg(BaseModel):
    """Fractions of the upright image to keep, applied before fitting.

    Strict-mode clients send every field, so 0 stands for "not given": right or bottom of 0 (never a legal
    edge, it must exceed left or top) means 1, and all four 0 means no crop at all.
    """

    model_config = ConfigDict(extra="forbid")

    left: float = Field(default=0.0, description="Left edge, 0..1 of the width (0 = keep from the left border)")
    top: float = Field(default=0.0, description="Top edge, 0..1 of the height")
    right: float = Field(default=1.0, description="Right edge, 0..1 of the width; greater than left; 0 means 1")
    bottom: float = Field(default=1.0, description="Bottom edge, 0..1 of the height; greater than top; 0 means 1")

    def box(self) -> CropBox | None:
        """The crop to apply, or None when it keeps everything (including the all-zeros placeholder)."""
        right = 1.0 if self.right == 0 else self.right
        bottom = 1.0 if self.bottom == 0 else self.bottom
        box = CropBox(self.left, self.top, right, bottom)
        return None if box.is_full else box


class Box(BaseModel):
    left: float
    top: float
    right: float
    bottom: float


class Sides(BaseModel):
    left: int
    top: int
    right: int
    bottom: int


class SourceInfo(BaseModel):
    format: str
    width: int = Field(description="Upright width (after EXIF orientation)")
    height: int
    orientation: int = Field(description="EXIF orientation applied; 1 = none")


class FitResult(BaseModel):
    path: str = Field(description="The fitted image; pass it as the reference image with the same size")
    size: str = Field(description="WIDTHxHEIGHT of the file, equal to the video size")
    width: int
    height: int
    format: ImageFormat
    bytes: int
    mode: FitMode
    model: str | None = Field(default=None, description="The model whose sizes were checked, if one was given")
    passed_through: bool = Field(description="The input already was a legal frame and was copied unchanged")
    reused: bool = Field(description="An identical earlier request had made this file; nothing was recomputed")
    source: SourceInfo
    crop_box: Box = Field(description="Region of the upright source used, in source pixels")
    scale: float = Field(description="Resampling factor (horizontal, for stretch)")
    scale_y: float
    padding: Sides = Field(description="Background pixels added on each side (pad mode)")
    decode_scale: int = Field(description="JPEG decoded at 1/n scale before resampling")
    steps: list[str] = Field(description="What was done, in order")


class UnavailableRoots(ListRootsResult):
    """The client declared roots but `roots/list` failed: no folder is shared, and `reason` says why."""

    reason: str


async def client_roots(ctx: Context[Any, Any]) -> ListRootsResult | ListRoots | None:
    """The client's roots when it declared the capability (either protocol era), else None.

    Before 2026-07-28 the request is sent here rather than left to the SDK, so a client that answers
    `roots/list` with an error (or not at all) gets a tool error naming that, not a protocol error for the whole
    call. From 2026-07-28 roots travel in `input_required`; a client that refuses them ends its own call.
    """
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.roots is None:
        return None
    version = ctx.protocol_version
    if version is None or is_version_at_least(version, INPUT_REQUIRED_VERSION):
        return ListRoots()
    session = ctx.session
    if not session.can_send_request:
        return UnavailableRoots(roots=[], reason="this connection cannot carry the server's roots/list request")
    try:
        result: ListRootsResult = await session.send_request(
            ListRootsRequest(),
            ListRootsResult,
            request_read_timeout_seconds=ROOTS_TIMEOUT_SECONDS,
            metadata=ServerMessageMetadata(related_request_id=ctx.request_id),
        )
    except MCPError as exc:
        logger.info("the client's roots/list failed: %s", exc.error.message)
        return UnavailableRoots(roots=[], reason=f"it answered roots/list with an error ({exc.error.message[:200]})")
    except TimeoutError:
        return UnavailableRoots(roots=[], reason=f"it did not answer roots/list within {ROOTS_TIMEOUT_SECONDS:.0f} s")
    except ValidationError:
        return UnavailableRoots(roots=[], reason="its roots/list answer is not a list of roots")
    return result


def allowed_input_dirs(settings: Settings, roots: ListRootsResult | None) -> tuple[tuple[Path, ...], str]:
    """Where input images may come from, and how to name that origin in an error.

    A client that declared roots draws the boundary: only its local `file://` roots count, and none (an empty
    list, only remote roots, a failed `roots/list`) means an empty tuple, i.e. no image file may be read. The
    configured folders (SORA_MCP_ALLOWED_DIRS, default the home directory) apply only to clients without roots.
    Over HTTP the client is on another machine: its roots name its folders, not this server's, so they are not
    used, and only folders the operator set in SORA_MCP_ALLOWED_DIRS may be read (none by default: data: URLs).
    """
    if settings.transport == "http":
        if settings.sources.get("allowed_dirs", "default") == "default":
            return (
                (),
                "a remote client (HTTP); send the image as a data: URL, or the operator sets SORA_MCP_ALLOWED_DIRS",
            )
        return settings.allowed_dirs, "SORA_MCP_ALLOWED_DIRS"
    if roots is None:
        origin = (
            "your home directory, the default; set SORA_MCP_ALLOWED_DIRS to change it"
            if settings.sources.get("allowed_dirs", "default") == "default"
            else "SORA_MCP_ALLOWED_DIRS"
        )
        return settings.allowed_dirs, origin
    share = "the client must share the image's folder as a root (file:///path/to/folder)"
    if isinstance(roots, UnavailableRoots):
        return (), f"the client declared roots, but {roots.reason}; {share}"
    uris = [str(r.uri) for r in roots.roots]
    dirs = dirs_from_roots(uris)
    if dirs:
        return dirs, "the client's roots"
    if not uris:
        return (), f"the client declared roots but shares no folder; {share}"
    remote = ", ".join(u for u in uris[:3] if local_root(u) is None) + (", ..." if len(uris) > 3 else "")
    return (), (
        f"the client's roots name no folder on this machine ({remote}; only file:///path and "
        f"file://localhost/path roots do); {share}"
    )


def _result(outcome: FitOutcome, model: str | None) -> FitResult:
    box, pad = outcome.crop_box, outcome.padding
    return FitResult(
        path=str(outcome.path),
        size=str(outcome.size),
        width=outcome.width,
        height=outcome.height,
        format=outcome.format,
        bytes=outcome.bytes,
        mode=outcome.mode,
        model=model,
        passed_through=outcome.passed_through,
        reused=outcome.reused,
        source=SourceInfo(
            format=outcome.source_format,
            width=outcome.source_size.width,
            height=outcome.source_size.height,
            orientation=outcome.orientation,
        ),
        crop_box=Box(left=box.left, top=box.top, right=box.right, bottom=box.bottom),
        scale=outcome.scale_x,
        scale_y=outcome.scale_y,
        padding=Sides(left=pad.left, top=pad.top, right=pad.right, bottom=pad.bottom),
        decode_scale=outcome.decode_scale,
        steps=list(outcome.steps),
    )


def _pick_size(spec: ModelSpec, source: Size) -> Size:
    """Without a size: the model's default if it matches the photo's orientation, else its smallest that does."""
    default = Size.parse(spec.default_size)
    if default.orientation == source.orientation or source.orientation == "square":
        return default
    matching = [s for s in spec.frame_sizes if s.orientation == source.orientation]
    return min(matching, key=lambda s: s.area) if matching else default


def specs(runtime: Runtime) -> list[ToolSpec]:
    catalog = runtime.catalog
    settings = runtime.settings

    def legal_sizes() -> list[str]:
        seen: dict[str, None] = {}
        for spec in catalog:
            for size in spec.sizes:
                seen.setdefault(size, None)
        return list(seen)

    def fit_reference_image(
        image: Annotated[
            str,
            Field(
                description="Absolute path of the image file (or a path relative to an allowed folder), or a "
                "data: URL (data:image/png;base64,...). Required, not empty",
                min_length=1,
            ),
        ],
        size: Annotated[
            str | None,
            Field(
                description="Video size WIDTHxHEIGHT, e.g. '1280x720'; must be one the model supports. "
                "'' = not given (then model picks it)"
            ),
        ] = None,
        model: Annotated[
            str | None,
            Field(
                description="Video model, e.g. 'sora-2'; checks the size against it, or picks one of its sizes. "
                "'' = not given"
            ),
        ] = None,
        mode: Annotated[
            ModeArg,
            Field(
                description="cover: fill the frame, cropping the overflow (default; portraits, screenshots); "
                "pad: keep everything, add bars of the background colour (products, art); stretch: distort. "
                "'' = not given (cover)"
            ),
        ] = "cover",
        background: Annotated[
            str, Field(description="Bar and transparency colour as #rrggbb (default black); '' = not given")
        ] = "#000000",
        crop: Annotated[
            CropArg | None,
            Field(
                description="Keep only this part of the image (fractions 0..1), before fitting. All four 0 = not "
                "given (no crop); right or bottom 0 = 1"
            ),
        ] = None,
        format: Annotated[
            FormatArg | None,
            Field(description="Output format; default: the input's own if jpeg/png/webp, else jpeg. '' = not given"),
        ] = None,
        quality: Annotated[
            int, Field(description="JPEG/WebP quality 1-100 (default 92); 0 = not given", ge=0, le=100)
        ] = 92,
        roots: Annotated[ListRootsResult | None, Resolve(client_roots)] = None,
    ) -> Annotated[CallToolResult, FitResult]:
        # Strict-mode clients (every property required) send '' and 0 for what they mean to leave out.
        size, model = (size or "").strip() or None, (model or "").strip() or None
        fit_mode: FitMode = mode or "cover"
        out_format: ImageFormat | None = format or None
        background = background.strip() or "#000000"
        quality = quality or 92
        if not image.strip():
            raise ToolError.of(
                "image",
                "image is blank: it is the one required argument.",
                code="missing_image",
                param="image",
                fix="Pass the image's absolute file path, or a data: URL (data:image/png;base64,...).",
            )
        sizes = legal_sizes()
        spec: ModelSpec | None = None
        if model is not None:
            spec = catalog.find(model)
            if spec is None:
                raise ToolError.of(
                    "request",
                    f"Unknown model '{model}'. Models of profile '{catalog.profile}': "
                    f"{', '.join(catalog.model_ids)}. Pass one of them, or pass only size.",
                    code="unknown_model",
                    param="model",
                    legal_values=list(catalog.model_ids),
                )
            sizes = list(spec.sizes)
        target: Size | None = None
        if size is not None:
            try:
                target = Size.parse(size)
            except SizeError:
                raise ToolError.of(
                    "request",
                    f"size '{size}' is not WIDTHxHEIGHT. Legal sizes: {', '.join(sizes)}.",
                    code="invalid_size",
                    param="size",
                    legal_values=list(sizes),
                ) from None
            if str(target) not in sizes:
                whose = f"{spec.id} takes" if spec is not None else f"models of profile '{catalog.profile}' take"
                raise ToolError.of(
                    "request",
                    f"size {target} is not a legal video size: {whose} {', '.join(sizes)}. "
                    "Pick one of them; the reference image must match the video size exactly.",
                    code="invalid_size",
                    param="size",
                    legal_values=list(sizes),
                )
        elif spec is None:
            raise ToolError.of(
                "request",
                f"Give size (one of {', '.join(sizes)}) or model (one of {', '.join(catalog.model_ids)}) so the "
                "image can be fitted to the video size.",
                code="missing_size",
                param="size",
                legal_values=list(sizes),
            )

        from sora_mcp.imaging.fit import fit_image, image_size, reference_dir  # Pillow loads on first use
        from sora_mcp.imaging.preview import preview_jpeg

        allowed, origin = allowed_input_dirs(settings, roots)
        try:
            source = read_image_input(image, allowed, allowed_origin=origin)
            if target is None:
                assert spec is not None
                target = _pick_size(spec, image_size(source))
            request = FitRequest(
                target=target,
                mode=fit_mode,
                background=background,
                crop=crop.box() if crop is not None else None,
                format=out_format,
                quality=quality,
            )
            outcome = fit_image(source, request, reference_dir(settings.output_dir))
            preview = preview_jpeg(outcome.path)
        except ImageInputError as exc:
            raise ToolError.of(
                "image", f"Cannot fit the image: {str(exc).rstrip('.')}.", code=exc.code, param=exc.param or "image"
            ) from None
        except OSError as exc:
            raise ToolError.of(
                "storage",
                f"Cannot write the fitted image into {settings.output_dir}: {exc.strerror or exc}.",
                code="output_not_writable",
                fix="Check SORA_MCP_OUTPUT_DIR: it must be a folder this server can write.",
            ) from None

        result = _result(outcome, spec.id if spec is not None else None)
        chosen = (
            f" (no size given: chose {target}, {result.model}'s size for a {outcome.source_size.orientation} image)"
            if size is None
            else ""
        )
        if outcome.passed_through:
            what = "Already a legal frame, copied unchanged"
        elif outcome.reused:
            what = "Reused the identical earlier result"
        else:
            what = f"Fitted ({outcome.mode})"
        text = (
            f"{what}: {outcome.path} ({outcome.format.upper()}, {outcome.width}x{outcome.height}, "
            f"{outcome.bytes / 1024:.0f} KB){chosen}. Use it as the reference image of a {outcome.size} video. "
            f"Steps: {'; '.join(outcome.steps)}."
        )
        image_block = ImageContent(type="image", data=base64.b64encode(preview).decode("ascii"), mime_type="image/jpeg")
        return ok(text, result, [image_block])

    return [
        ToolSpec(
            fn=fit_reference_image,
            name="fit_reference_image",
            title="Fit a reference image to the video size",
            description=(
                "Make an image usable as the first frame (reference image) of a video: the API rejects any "
                "reference that is not exactly the video's size. Give the image (file path or data: URL) and "
                "size (or model). Applies EXIF rotation, optional crop (fractions), then cover (fill, crop "
                "overflow), pad (letterbox with background colour) or stretch; converts CMYK, 16-bit, palette "
                "and ICC colours to sRGB and flattens transparency. Returns the file path, what was done and a "
                "small preview. Same request twice returns the same file instantly."
            ),
            annotations=hints(read_only=False, destructive=False, idempotent=True, open_world=False),
        )
    ]
