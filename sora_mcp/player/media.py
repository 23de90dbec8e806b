"""The job's files for the player, through the host: `sora://videos/{id}/content|thumbnail|spritesheet` blobs.

A sandboxed iframe cannot open local paths and, in stdio mode, there is no web server of ours to fetch from, so
the bytes travel as base64 in a `resources/read` answer. One message holds the whole MP4, hence a limit
(`SORA_MCP_PLAYER_MAX_VIDEO_MB`): over it the app shows the thumbnail and the path and says why. `player_media`
(an app-only tool) tells the app, before it reads anything, which files exist, how large they are and whether the
MP4 fits; its `url` field carries a download URL when the server has one to give (none in stdio mode).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from sora_mcp.errors import ToolError
from sora_mcp.jobs.ledger import JobRecord
from sora_mcp.player.storyboard import Grid, detect
from sora_mcp.runtime import Runtime
from sora_mcp.tooling import ToolSpec, hints, ok
from sora_mcp.videos.delivery import Delivery, local_path
from sora_mcp.videos.service import VideoService

logger = logging.getLogger(__name__)
Asset = Literal["content", "thumbnail", "spritesheet"]
MEGABYTE = 1_000_000
_MIME_BY_SUFFIX = {".mp4": "video/mp4", ".webp": "image/webp", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


class MediaFile(BaseModel):
    uri: str = Field(description="the sora:// resource that returns the file as a base64 blob")
    mime_type: str
    bytes: int
    path: str = Field(description="where the file is on the server's machine")
    sendable: bool = Field(description="small enough to travel through the host in one message")
    reason: str | None = Field(default=None, description="why it is not sendable, and what to do instead")
    url: str | None = Field(default=None, description="a download URL, when the server serves one (HTTP mode)")


class PlayerMedia(BaseModel):
    """What the player can show for one job; files are absent until the job completed and they were downloaded."""

    video_id: str
    status: str
    assets_expired: bool = Field(default=False, description="the provider's download links have expired")
    video: MediaFile | None = None
    thumbnail: MediaFile | None = None
    spritesheet: MediaFile | None = None
    storyboard: Grid | None = Field(default=None, description="the spritesheet's grid of frames, in time order")
    limit_bytes: int = Field(description="the largest MP4 the player receives through the host")


_VARIANT_OF: dict[Asset, Literal["video", "thumbnail", "spritesheet"]] = {
    "content": "video",
    "thumbnail": "thumbnail",
    "spritesheet": "spritesheet",
}


def _path_of(record: JobRecord, asset: Asset) -> str | None:
    return local_path(record, _VARIANT_OF[asset])


def limit_bytes(runtime: Runtime) -> int:
    return int(runtime.settings.player_max_video_mb * MEGABYTE)


def _too_large(size: int, limit: int, path: str) -> str:
    return (
        f"The MP4 is {size / MEGABYTE:.1f} MB, over the player's limit of {limit / MEGABYTE:g} MB "
        f"(SORA_MCP_PLAYER_MAX_VIDEO_MB): open it at {path}, or raise the limit if your host accepts larger messages."
    )


def describe(record: JobRecord, runtime: Runtime, delivery: Delivery | None = None) -> PlayerMedia:
    """What the player may show; over HTTP each file also gets its signed download link (`url`), which the
    player prefers, so an MP4 over the blob limit still plays there."""
    vid = record.video_id or record.local_id
    limit = limit_bytes(runtime)
    files: dict[Asset, MediaFile | None] = {}
    for asset in ("content", "thumbnail", "spritesheet"):
        path = _path_of(record, asset)
        if path is None or not Path(path).is_file():
            files[asset] = None
            continue
        size = Path(path).stat().st_size
        fits = asset != "content" or size <= limit
        files[asset] = MediaFile(
            uri=f"sora://videos/{vid}/{asset}",
            mime_type=_MIME_BY_SUFFIX.get(Path(path).suffix.lower(), "application/octet-stream"),
            bytes=size,
            path=path,
            sendable=fits,
            reason=None if fits else _too_large(size, limit, path),
            url=None if delivery is None else delivery.address(record, _VARIANT_OF[asset]),
        )
    sheet = files["spritesheet"]
    grid = None
    if sheet is not None:
        try:
            width, height = (int(n) for n in record.size.lower().split("x"))
            grid = detect(Path(sheet.path), width, height)
        except (ValueError, OSError) as exc:  # an unreadable sheet only costs the storyboard
            logger.warning("spritesheet %s has no usable grid: %s", sheet.path, exc)
    return PlayerMedia(
        storyboard=grid,
        video_id=vid,
        status=record.status,
        assets_expired=record.assets_expired() and record.status in ("completed", "expired"),
        video=files["content"],
        thumbnail=files["thumbnail"],
        spritesheet=files["spritesheet"],
        limit_bytes=limit,
    )


def register_resources(server: MCPServer, runtime: Runtime, service: VideoService) -> None:
    """The three blob templates; every read checks the ledger (the tenant's own jobs) and the size limit."""

    async def read(video_id: str, asset: Asset) -> bytes:
        try:
            record = await service.lookup(video_id)
        except ToolError as exc:
            raise ResourceNotFoundError(exc.info.text()) from None
        path = _path_of(record, asset)
        if path is None or not Path(path).is_file():
            raise ResourceNotFoundError(
                f"Video {video_id} has no {asset} file yet (status {record.status}); "
                "get_video_status downloads the files when the job completes."
            )
        size = Path(path).stat().st_size
        if asset == "content" and size > limit_bytes(runtime):
            raise ResourceError(_too_large(size, limit_bytes(runtime), path))
        return Path(path).read_bytes()

    @server.resource(
        "sora://videos/{video_id}/content",
        name="video-content",
        title="Video MP4",
        description="A completed job's MP4 as a base64 blob, up to SORA_MCP_PLAYER_MAX_VIDEO_MB (for the player).",
        mime_type="video/mp4",
    )
    async def video_content(video_id: str) -> bytes:
        return await read(video_id, "content")

    @server.resource(
        "sora://videos/{video_id}/thumbnail",
        name="video-thumbnail",
        title="Video thumbnail",
        description="A completed job's thumbnail image as a base64 blob (the player's poster).",
        mime_type="image/webp",
    )
    async def video_thumbnail(video_id: str) -> bytes:
        return await read(video_id, "thumbnail")

    @server.resource(
        "sora://videos/{video_id}/spritesheet",
        name="video-spritesheet",
        title="Video spritesheet",
        description="A completed job's spritesheet (a grid of frames, in time order) as a base64 blob.",
        mime_type="image/jpeg",
    )
    async def video_spritesheet(video_id: str) -> bytes:
        return await read(video_id, "spritesheet")


def specs(runtime: Runtime, service: VideoService, delivery: Delivery | None = None) -> list[ToolSpec]:
    async def player_media(
        video_id: Annotated[str, Field(description="the job's video id (or job id)", min_length=1, max_length=512)],
    ) -> Annotated[CallToolResult, PlayerMedia]:
        media = describe(await service.lookup(video_id.strip()), runtime, delivery)
        shown = [name for name in ("video", "thumbnail", "spritesheet") if getattr(media, name) is not None]
        return ok(f"Video {media.video_id} ({media.status}): {', '.join(shown) or 'no files yet'}.", media)

    return [
        ToolSpec(
            fn=player_media,
            name="player_media",
            title="Player media",
            description=(
                "For the player app only: which files of a job can be shown (sora:// blob resources), their sizes, "
                "and whether the MP4 fits the player's limit."
            ),
            annotations=hints(read_only=True, idempotent=True, open_world=False),
        )
    ]
