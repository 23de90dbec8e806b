"""`sora-mcp fit PATH... --size 1280x720 --mode cover [--out DIR]`: the batch fitter on the command line.

Result paths go to stdout (one per line, in input order, so the command composes with `xargs`); progress,
the summary and errors go to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from sora_mcp.imaging.errors import ImageInputError
from sora_mcp.imaging.request import FIT_MODES, IMAGE_FORMATS, CropBox, FitRequest
from sora_mcp.settings import InvalidValue, Settings, SettingsError, argparse_type
from sora_mcp.sizes import Size, SizeError

MAX_SIDE = 8192
"""Largest width or height `fit --size` accepts (video sizes are at most 1792x1024)."""
MAX_JOBS = 256


def _whole(low: int, high: int, what: str) -> argparse._ActionType:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise InvalidValue(f"is not a whole number; {what} is {low} to {high}") from None
        if not low <= value <= high:
            raise InvalidValue(f"is out of range; {what} is {low} to {high}")
        return value

    return argparse_type(parse)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `fit` subcommand; its handler is stored as `args.handler(args) -> exit code`."""
    parser = subparsers.add_parser(
        "fit",
        help="fit images to an exact video size (reference images), in parallel",
        description=(
            "Fit images to exactly WIDTHxHEIGHT so a video API accepts them as the first frame. EXIF rotation "
            "is applied, colours converted to sRGB. Folders are expanded to the images they contain."
        ),
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files or folders")
    parser.add_argument("--size", required=True, help="target size WIDTHxHEIGHT, e.g. 1280x720")
    parser.add_argument("--mode", choices=FIT_MODES, default="cover", help="cover (default), pad or stretch")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: <output dir>/reference-images)")
    parser.add_argument("--background", default="#000000", help="pad and transparency colour #rrggbb")
    parser.add_argument("--crop", metavar="L,T,R,B", help="keep this part first, as fractions, e.g. 0.1,0,0.9,1")
    parser.add_argument("--format", choices=IMAGE_FORMATS, default=None, help="output format (default: keep)")
    parser.add_argument("--quality", type=int, default=92, help="JPEG/WebP quality 1-100 (default 92)")
    parser.add_argument(
        "--jobs",
        "-j",
        type=_whole(1, MAX_JOBS, "the number of processes"),
        default=os.cpu_count() or 1,
        help=f"parallel processes, 1 to {MAX_JOBS}",
    )
    parser.add_argument("--recursive", "-r", action="store_true", help="also fit images in sub-folders")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """0 when every image was fitted, 1 when some failed, 2 when the request itself is wrong."""
    # Imported here, not at module level: `sora-mcp serve` registers this command and must not load Pillow.
    from sora_mcp.imaging.batch import Progress, expand_paths, run_batch, summary
    from sora_mcp.imaging.fit import reference_dir

    try:
        request = _request(args)
        out_dir = args.out if args.out is not None else reference_dir(Settings.resolve().output_dir)
    except (ImageInputError, SizeError, SettingsError) as exc:
        sys.stderr.write(f"sora-mcp fit: {exc}\n")
        return 2
    files, missing = expand_paths(args.paths, recursive=args.recursive)
    if not files and not missing:
        sys.stderr.write("sora-mcp fit: no image files found in the given folders\n")
        return 1
    progress = Progress(len(files), sys.stderr)
    started = time.monotonic()
    items = run_batch(files, request, out_dir, jobs=args.jobs, on_done=progress.update)
    items = missing + items
    for item in items:
        if item.outcome is not None:
            sys.stdout.write(f"{item.outcome.path}\n")
    sys.stdout.flush()
    sys.stderr.write(summary(items, request, out_dir, time.monotonic() - started) + "\n")
    return 1 if any(item.error is not None for item in items) else 0


def _request(args: argparse.Namespace) -> FitRequest:
    crop = None
    if args.crop:
        try:
            values = [float(v) for v in args.crop.split(",")]
        except ValueError:
            raise ImageInputError(f"--crop '{args.crop}' must be four numbers L,T,R,B, e.g. 0.1,0,0.9,1") from None
        if len(values) != 4:
            raise ImageInputError(f"--crop '{args.crop}' must be four numbers L,T,R,B, e.g. 0.1,0,0.9,1")
        crop = CropBox(*values)
    target = Size.parse(args.size)
    if target.width > MAX_SIDE or target.height > MAX_SIDE:
        raise SizeError(f"--size {args.size} is too large; width and height must each be at most {MAX_SIDE}")
    return FitRequest(
        target=target,
        mode=args.mode,
        background=args.background,
        crop=crop,
        format=args.format,
        quality=args.quality,
    )
