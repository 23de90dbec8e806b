"""The `sora-mcp` command: serve (default), config, demo, sandbox, fit.

The CLI is the only place that may print; in `serve` mode stdout carries the protocol and everything
human-readable goes to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from sora_mcp import __version__
from sora_mcp.catalog import CatalogError
from sora_mcp.settings import OPTIONS, Settings, SettingsError

Handler = Callable[[argparse.Namespace], int]
COMMAND_MODULES: tuple[str, ...] = ("sora_mcp.sandbox.command", "sora_mcp.imaging.command")
"""Modules with a `register(subparsers)` function adding their own command."""


def _settings_parent() -> argparse.ArgumentParser:
    """Every setting as a flag, shared by the commands that build a server (flag > env > default)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("settings (flag > environment variable > default)")
    for option in OPTIONS:
        group.add_argument(
            option.flag, dest=f"opt_{option.name}", metavar="VALUE", help=f"{option.help} [{option.env}]"
        )
    return parent


def _flags(args: argparse.Namespace) -> dict[str, str | None]:
    """The settings given as flags (None where a flag was not given)."""
    return {option.name: getattr(args, f"opt_{option.name}", None) for option in OPTIONS}


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.resolve(flags=_flags(args))


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )


def _serve(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    _configure_logging(settings.log_level)
    from sora_mcp.server import build_server

    server = build_server(settings)
    logging.getLogger("sora_mcp").info("serving over stdio; backend %s, profile %s", settings.backend, settings.profile)
    server.run("stdio")
    return 0


def _config(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    rows = settings.describe()
    width = max(len(name) for name, *_ in rows)
    env_width = max(len(env) for _, env, *_ in rows)
    print(f"sora-mcp {__version__} configuration (flag > environment > default):")
    for name, env, shown, source in rows:
        print(f"  {name:<{width}}  {env:<{env_width}}  {source:<8}  {shown}")
    from sora_mcp.runtime import Runtime

    runtime = Runtime.create(settings)
    models = ", ".join(f"{m.id} ({m.status})" for m in runtime.catalog)
    print(f"catalog: profile '{runtime.catalog.profile}' — {models}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from sora_mcp.cli_demo import run_demo

    return run_demo(settings_flags=_flags(args))


def _register_optional(subparsers: Any, module: str) -> None:
    """Commands that live with their concept (sandbox, fit) register themselves."""
    import importlib

    importlib.import_module(module).register(subparsers)


def build_parser() -> argparse.ArgumentParser:
    parent = _settings_parent()
    parser = argparse.ArgumentParser(
        prog="sora-mcp",
        description="MCP server for Sora-style video APIs. With no command, serves MCP over stdio.",
        parents=[parent],
    )
    parser.add_argument("--version", action="version", version=f"sora-mcp {__version__}")
    parser.set_defaults(handler=_serve)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    serve = subparsers.add_parser("serve", parents=[parent], help="serve MCP over stdio (the default)")
    serve.set_defaults(handler=_serve)
    config = subparsers.add_parser("config", parents=[parent], help="show each setting and where it came from")
    config.set_defaults(handler=_config)
    demo = subparsers.add_parser(
        "demo", parents=[parent], help="walk the whole story as an MCP client against the offline sandbox"
    )
    demo.set_defaults(handler=_demo)
    for module in COMMAND_MODULES:
        _register_optional(subparsers, module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (SettingsError, CatalogError) as exc:
        print(f"sora-mcp: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
