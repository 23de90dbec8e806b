"""`sora-mcp demo`: be the IDE. Spawn `sora-mcp serve` over stdio and walk the whole story as an MCP client.

It needs no configuration: without an API key the server uses its embedded offline sandbox. The demo's photo is
made in memory and sent as a data: URL (and so is the fitted image), so the demo works whatever
SORA_MCP_ALLOWED_DIRS allows; the results go to the configured output directory (never the working directory).

Whatever goes wrong is reported as one line on stderr (what happened and what to change), exit code 1.
"""

from __future__ import annotations

import base64
import io
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
DEMO_DEADLINE_SECONDS = 300.0
"""How long the demo waits for its video in all before giving up (a sandbox job takes seconds)."""
POLL_WAIT_SECONDS = 10
"""`wait_seconds` the demo asks each get_video_status call for, when the tool takes it."""
PENDING = ("creating", "queued", "in_progress")
MESSAGE_LIMIT = 400


class DemoError(Exception):
    """Why the demo stopped, as one line for the user."""


def _text(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MESSAGE_LIMIT else line[: MESSAGE_LIMIT - 3] + "..."


def _data(result: CallToolResult, tool: str) -> dict[str, Any]:
    if result.is_error or result.structured_content is None:
        first = next((block.text for block in result.content if isinstance(block, TextContent)), "")
        raise DemoError(f"{tool} failed: {_one_line(first) or 'the server gave no reason'}")
    return dict(result.structured_content)


def _server_parameters(settings_flags: Mapping[str, str | None]) -> StdioServerParameters:
    args = ["-m", "sora_mcp", "serve"]
    for name, value in settings_flags.items():
        if value is not None:
            args.append(f"{OPTIONS_BY_NAME[name].flag}={value}")
    return StdioServerParameters(command=sys.executable, args=args, env=dict(os.environ))


def make_demo_photo() -> bytes:
    """A 4:3 'phone photo' (sky, sea, sun) as JPEG bytes; it matches no video size, so it needs fitting."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (2016, 1512))
    draw = ImageDraw.Draw(image)
    for y in range(1512):
        sky = (40 + y // 12, 90 + y // 10, 200 - y // 20) if y < 900 else (10, 60 + (y - 900) // 8, 110)
        draw.line([(0, y), (2016, y)], fill=sky)
    draw.ellipse((1300, 300, 1600, 600), fill=(255, 210, 90))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def data_url(content: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(content).decode('ascii')}"


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


def _how_to_undo(settings: Settings, name: str, flag_fix: str, env_fix: str) -> str:
    source = settings.sources.get(name)
    if source == "flag":
        return flag_fix
    if source == "env":
        return env_fix
    return ""


def _check_tools(names: set[str], settings: Settings) -> None:
    needed = {"list_models", "validate_params", "fit_reference_image", "create_video", "get_video_status"}
    missing = sorted(needed - names)
    if not missing:
        return
    if settings.read_only:
        fix = _how_to_undo(
            settings,
            "read_only",
            "run the demo without --read-only",
            "unset SORA_MCP_READ_ONLY (or run: sora-mcp demo --no-read-only)",
        )
        raise DemoError(
            f"the server is read-only, so it offers no {', '.join(missing)}; {fix or 'turn read-only mode off'}"
        )
    raise DemoError(f"the server offers no {', '.join(missing)}; is it an older sora-mcp?")


def _hint(message: str, settings: Settings) -> str:
    """What to change, when the server's message is about a setting the demo was started with."""
    if "budget" not in message.lower():
        return ""
    name = "sandbox_daily_budget_usd" if settings.backend == "sandbox" else "daily_budget_usd"
    option = OPTIONS_BY_NAME[name]
    where = {"flag": f"the {option.flag} flag", "env": option.env}.get(settings.sources.get(name, ""), "the default")
    return f" (the {settings.backend} budget is ${getattr(settings, name):g} a day from {where}; raise it to run)"


async def _walk(params: StdioServerParameters, settings: Settings) -> int:
    started = time.monotonic()
    async with Client(params, mode="legacy") as client:
        info = client.server_info
        print(f"Connected to {info.name if info else 'the server'} over stdio (protocol {client.protocol_version}).")
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        _check_tools(set(tools), settings)
        status_properties = tools["get_video_status"].input_schema.get("properties", {})
        status_wait = {"wait_seconds": POLL_WAIT_SECONDS} if "wait_seconds" in status_properties else {}

        print("\n1. list_models")
        listed = await client.call_tool("list_models", {})
        models = _data(listed, "list_models")
        print(_text(listed))

        print("\n2. validate_params: 10 seconds on sora-2, 1080p landscape (the API would reject this)")
        verdict = _data(
            await client.call_tool("validate_params", {"model": "sora-2", "seconds": 10, "size": "1080p landscape"}),
            "validate_params",
        )
        for error in verdict["errors"]:
            print(f"   API would say: {error['message']}")
        request = verdict["request"]
        print(f"   -> taking the suggestion: {request['model']}, {request['seconds']} s, {request['size']}")
        video = {"model": request["model"], "seconds": str(request["seconds"]), "size": request["size"]}

        print("\n3. fit_reference_image: a 2016x1512 photo (sent as a data: URL) to exactly the video size")
        photo = data_url(make_demo_photo(), "image/jpeg")
        fitted = _data(
            await client.call_tool("fit_reference_image", {"image": photo, "size": video["size"], "mode": "cover"}),
            "fit_reference_image",
        )
        print(f"   demo-photo.jpg -> {fitted['path']} ({fitted['width']}x{fitted['height']}, {fitted['format']})")
        fitted_path = Path(fitted["path"])
        reference = data_url(fitted_path.read_bytes(), f"image/{fitted['format']}")

        print(f"\n4. create_video on the {models['backend']} backend, waiting with progress")
        bar = ProgressBar()
        try:
            job = _data(
                await client.call_tool(
                    "create_video",
                    {"prompt": "A calm sea at sunrise, slow push-in", "video": video, "reference_image": reference},
                    progress_callback=bar,
                ),
                "create_video",
            )
            deadline = started + DEMO_DEADLINE_SECONDS
            while job["status"] in PENDING:
                if time.monotonic() > deadline:
                    raise DemoError(
                        f"the video was not done after {DEMO_DEADLINE_SECONDS:.0f} s (status {job['status']}); "
                        f"ask again later with get_video_status video_id={job['video_id'] or job['job_id']}"
                    )
                job = _data(
                    await client.call_tool(
                        "get_video_status",
                        {"video_id": job["video_id"] or job["job_id"], **status_wait},
                        progress_callback=bar,
                    ),
                    "get_video_status",
                )
        except DemoError as exc:
            print()
            raise DemoError(f"{exc}{_hint(str(exc), settings)}") from None
        print()
        if job["status"] != "completed" or not job["files"].get("video"):
            error = job.get("error") or {}
            reason = error.get("message") if isinstance(error, dict) else str(error)
            raise DemoError(f"the video job ended as {job['status']}: {_one_line(reason or 'no reason given')}")

        print("\n5. done")
        cost = job.get("final_cost_usd") or job.get("estimated_cost_usd") or 0.0
        print(f"   MP4:       {job['files']['video']}")
        print(f"   Thumbnail: {job['files']['thumbnail']}")
        print(f"   Cost:      ${cost:.2f} ({job['backend']})")
        print(f"   Took {time.monotonic() - started:.1f} s.")
    return 0


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, which task groups wrap around the real failure."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def run_demo(settings_flags: Mapping[str, str | None]) -> int:
    settings = Settings.resolve(flags=settings_flags)
    try:
        return anyio.run(_walk, _server_parameters(settings_flags), settings)
    except (Exception, BaseExceptionGroup) as exc:
        leaves = _leaves(exc)
        if any(isinstance(leaf, KeyboardInterrupt) for leaf in leaves):
            raise KeyboardInterrupt from None
        demo = next((leaf for leaf in leaves if isinstance(leaf, DemoError)), None)
        if demo is not None:
            print(f"demo: {demo}", file=sys.stderr)
        else:
            leaf = leaves[0]
            print(
                f"demo: lost the server ({type(leaf).__name__}: {_one_line(str(leaf)) or 'no details'}); "
                "its own messages, if any, are above",
                file=sys.stderr,
            )
        return 1
