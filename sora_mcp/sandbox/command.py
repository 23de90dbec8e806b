"""`sora-mcp sandbox`: serve the sandbox standalone for any client until Ctrl-C.

Logs go to stderr; stdout gets a single line with the base URL, so a script can start the sandbox on a free
port (`--port 0`) and read where it listens. It binds to loopback unless `--host` says otherwise.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from sora_mcp.catalog import BUILTIN_PROFILES, CatalogError, Dialect, load_builtin, load_file
from sora_mcp.settings import InvalidValue, argparse_type, parse_time_scale

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_PROFILE = "apiyi"
DIALECT_CHOICES: tuple[Dialect, ...] = ("openai", "openrouter", "new-api")
DIALECT_PROFILES: dict[str, str] = {"openrouter": "openrouter", "new-api": "apiyi-veo"}
"""The built-in profile a dialect starts with when neither --profile nor --catalog is given (if shipped)."""
MAX_JOB_SECONDS = 3600.0


def parse_port(text: str) -> int:
    """A TCP port, 0 to 65535 (0 asks the system for a free one)."""
    try:
        port = int(text)
    except ValueError:
        raise InvalidValue("is not a port number; use 0 to 65535 (0 picks a free port)") from None
    if not 0 <= port <= 65535:
        raise InvalidValue("is out of range; use 0 to 65535 (0 picks a free port)")
    return port


def parse_job_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise InvalidValue("is not a number of seconds") from None
    if not 0 <= seconds <= MAX_JOB_SECONDS:
        raise InvalidValue(f"must be from 0 to {MAX_JOB_SECONDS:g} seconds")
    return seconds


def parse_api_key(text: str) -> str:
    if not text.strip():
        raise InvalidValue("is empty; give the key clients must send, or leave the option out to accept any key")
    return text


def register(subparsers: Any) -> None:
    """Add the `sandbox` subcommand to an argparse subparsers object; its handler returns an exit code."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sandbox",
        help="serve an offline sandbox of the Videos API (real HTTP, real MP4s, the provider's errors)",
        description=(
            "Serve an offline sandbox of the OpenAI Videos API on loopback. Point any OpenAI-compatible client at "
            "the printed base URL with any API key (or the one given with --api-key). Every video it makes is "
            "labelled SANDBOX RENDER. With --dialect openrouter it speaks OpenRouter's video API instead "
            "(/api/v1/videos, its statuses, content endpoint and model listing); with --dialect new-api, the OpenAI "
            "shape as New-API gateways serve it."
        ),
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument(
        "--port",
        type=argparse_type(parse_port),
        default=DEFAULT_PORT,
        help=f"port to listen on; 0 picks a free one (default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--profile",
        default=None,
        choices=BUILTIN_PROFILES,
        help=(
            f"catalog profile whose rules to enforce (default {DEFAULT_PROFILE}, or the dialect's own profile, "
            "e.g. openrouter for --dialect openrouter)"
        ),
    )
    parser.add_argument(
        "--dialect",
        default=None,
        choices=DIALECT_CHOICES,
        help="wire format to speak (default: the profile's own dialect)",
    )
    parser.add_argument("--catalog", type=Path, metavar="FILE", help="a catalog file of your own (overrides --profile)")
    parser.add_argument(
        "--time-scale",
        type=argparse_type(parse_time_scale),
        default=1.0,
        help="multiplier of job duration; 0.1 is ten times faster (default 1)",
    )
    parser.add_argument(
        "--job-seconds",
        type=argparse_type(parse_job_seconds),
        default=6.0,
        help=f"seconds a job takes before scaling, 0 to {MAX_JOB_SECONDS:g} (default 6)",
    )
    parser.add_argument(
        "--api-key",
        type=argparse_type(parse_api_key),
        default=None,
        help="accept only this bearer key (default: any non-empty key)",
    )
    parser.set_defaults(handler=run)


def profile_for(args: argparse.Namespace) -> str:
    """--profile, else the dialect's own built-in profile when it ships, else the default profile."""
    if args.profile is not None:
        return str(args.profile)
    own = DIALECT_PROFILES.get(args.dialect or "")
    return own if own is not None and own in BUILTIN_PROFILES else DEFAULT_PROFILE


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; 0 on a clean stop, 2 on a configuration or startup error."""
    from sora_mcp.sandbox.config import SandboxConfig
    from sora_mcp.sandbox.runner import SandboxError, SandboxServer

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        catalog = load_file(args.catalog) if args.catalog is not None else load_builtin(profile_for(args))
        config = SandboxConfig(
            catalog=catalog,
            dialect=args.dialect,
            api_key=args.api_key,
            time_scale=args.time_scale,
            job_seconds=args.job_seconds,
        )
    except (CatalogError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    server = SandboxServer(config, host=args.host, port=args.port)
    try:
        server.start()
    except (OSError, SandboxError) as exc:
        log.error("cannot start the sandbox on %s:%s: %s", args.host, args.port, exc)
        server.stop()
        return 2
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        log.warning("the sandbox listens on %s, reachable from other machines", args.host)
    sys.stdout.write(f"sora-mcp sandbox serving {server.base_url} (profile {catalog.profile}, dialect {config.wire})\n")
    sys.stdout.flush()
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            if not server.running:
                log.error("the sandbox server stopped unexpectedly")
                return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("stopping the sandbox")
        server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the subcommand without the rest of the CLI (`python -m sora_mcp.sandbox.command`)."""
    parser = argparse.ArgumentParser(prog="sora-mcp")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    handler = args.handler
    code: int = handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
