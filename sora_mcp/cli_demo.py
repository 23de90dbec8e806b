"""`sora-mcp demo`: be the IDE. Spawn `sora-mcp serve` over stdio and walk the whole story as an MCP client.

It needs no configuration: without an API key the server uses its embedded offline sandbox. The demo's
photo and the results go to the configured output directory (never the working directory).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, TextContent

from sora_mcp.settings import OPTIONS_BY_NAME, Settings

BAR_WIDTH = 30


def _text(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def _data(result: CallToolResult) -> dict[str, Any]:
    if result.is_error or result.structured_content is None:
        raise SystemExit(f"demo: the server answered with an error:\n{_text(result)}")
    return dict(result.structured_content)


def _server_parameters(settings_flags: Mapping[str, str | None]) -> StdioServerParameters:
    args = ["-m", "sora_mcp", "serve"]
    for name, value in settings_flags.items():
        if value is not None:
            args += [OPTIONS_BY_NAME[name].flag, value]
    return StdioServerParameters(command=sys.executable, args=args, env=dict(os.environ))


def make_demo_photo(folder: Path) -> Path:
    """A 4:3 'phone photo' (sky, sea, sun) that does not match any video size, so it needs fitting."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "demo-photo.jpg"
    image = Image.new("RGB", (2016, 1512))
    draw = ImageDraw.Draw(image)
    for y in range(1512):
        sky = (40 + y // 12, 90 + y // 10, 200 - y // 20) if y < 900 else (10, 60 + (y - 900) // 8, 110)
        draw.line([(0, y), (2016, y)], fill=sky)
    draw.ellipse((1300, 300, 1600, 600), fill=(255, 210, 90))
    image.save(path, "JPEG", quality=90)
    return path


class ProgressBar:
    """A one-line bar on the terminal, redrawn on each progress notification."""

    def __init__(self) -> None:
        self.last = -1.0

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        fraction = progress / (total or 100.0)
        filled = int(BAR_WIDTH * fraction)
        sys.stdout.write(f"\r   [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {progress:5.1f}% {message or ''}   ")
        sys.stdout.flush()
        self.last = progress


async def _walk(params: StdioServerParameters, output_dir: Path) -> int:
    started = time.monotonic()
    async with Client(params, mode="legacy") as client:
        info = client.server_info
        print(f"Connected to {info.name if info else 'the server'} over stdio (protocol {client.protocol_version}).")

        print("\n1. list_models")
        listed = await client.call_tool("list_models", {})
        models = _data(listed)
        print(_text(listed))

        print("\n2. validate_params: 10 seconds on sora-2, 1080p landscape (the API would reject this)")
        verdict = _data(
            await client.call_tool("validate_params", {"model": "sora-2", "seconds": 10, "size": "1080p landscape"})
        )
        for error in verdict["errors"]:
            print(f"   API would say: {error['message']}")
        request = verdict["request"]
        print(f"   -> taking the suggestion: {request['model']}, {request['seconds']} s, {request['size']}")
        video = {"model": request["model"], "seconds": str(request["seconds"]), "size": request["size"]}

        print("\n3. fit_reference_image: a 2016x1512 photo to exactly the video size")
        photo = make_demo_photo(output_dir / "demo-input")
        fitted = _data(
            await client.call_tool("fit_reference_image", {"image": str(photo), "size": video["size"], "mode": "cover"})
        )
        print(f"   {photo.name} -> {fitted['path']} ({fitted['width']}x{fitted['height']}, {fitted['format']})")

        print(f"\n4. create_video on the {models['backend']} backend, waiting with progress")
        bar = ProgressBar()
        result = await client.call_tool(
            "create_video",
            {"prompt": "A calm sea at sunrise, slow push-in", "video": video, "reference_image": fitted["path"]},
            progress_callback=bar,
        )
        job = _data(result)
        while job["status"] in ("creating", "queued", "in_progress"):
            job = _data(
                await client.call_tool(
                    "get_video_status", {"video_id": job["video_id"] or job["job_id"]}, progress_callback=bar
                )
            )
        print()
        if job["status"] != "completed" or not job["files"].get("video"):
            print(f"demo: the job ended as {job['status']}: {job.get('error')}", file=sys.stderr)
            return 1

        print("\n5. done")
        cost = job.get("final_cost_usd") or job.get("estimated_cost_usd")
        print(f"   MP4:       {job['files']['video']}")
        print(f"   Thumbnail: {job['files']['thumbnail']}")
        print(f"   Cost:      ${cost:.2f} ({job['backend']})")
        print(f"   Took {time.monotonic() - started:.1f} s.")
    return 0


def run_demo(settings_flags: Mapping[str, str | None]) -> int:
    settings = Settings.resolve(flags=settings_flags)
    return anyio.run(_walk, _server_parameters(settings_flags), settings.output_dir)
