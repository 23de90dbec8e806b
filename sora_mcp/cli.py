"""The `sora-mcp` command: serve (default), config, demo, sandbox, fit.

The CLI is the only place that may print; in `serve` mode stdout carries the protocol and everything
human-readable goes to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from sora_mcp import __version__
from sora_mcp.catalog import CatalogError
from sora_mcp.settings import (
    OPTIONS,
    OPTIONS_BY_NAME,
    InvalidValue,
    Settings,
    SettingsError,
    argparse_type,
    parse_bool,
    parser_for,
)

Handler = Callable[[argparse.Namespace], int]
COMMAND_MODULES: tuple[str, ...] = ("sora_mcp.sandbox.command", "sora_mcp.imaging.command", "sora_mcp.http.command")
"""Modules with a `register(subparsers)` function adding their own command."""

BEFORE = "top_"
AFTER = "opt_"
"""Settings flags given before the command land in `top_<name>`, after it in `opt_<name>`: two destinations, so
neither position can silently overwrite the other (an argparse subparser writes its defaults over the main
parser's values)."""

READ_ONLY_FLAG = OPTIONS_BY_NAME["read_only"].flag
NO_READ_ONLY_FLAG = "--no-" + READ_ONLY_FLAG.removeprefix("--")


class CommandLineError(Exception):
    """A command line that cannot be obeyed exactly as written."""


class Parser(argparse.ArgumentParser):
    """Usage errors are one line naming the problem and the limit, exit code 2, no usage block or traceback."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def _add_settings(parser: argparse.ArgumentParser, prefix: str) -> None:
    """Every setting as a flag (flag > env > default), validated with the same limits as its environment variable."""
    group = parser.add_argument_group("settings (flag > environment variable > default)")
    for option in OPTIONS:
        dest = f"{prefix}{option.name}"
        if option.name == "read_only":
            group.add_argument(
                option.flag, dest=dest, action="store_const", const="true", help=f"{option.help} [{option.env}]"
            )
            group.add_argument(
                NO_READ_ONLY_FLAG,
                dest=dest,
                action="store_const",
                const="false",
                help=f"expose every tool [{option.env}=false]",
            )
            continue
        if option.switch:
            group.add_argument(
                option.flag, dest=dest, action="store_const", const="true", help=f"{option.help} [{option.env}]"
            )
            continue
        group.add_argument(
            option.flag,
            dest=dest,
            metavar="VALUE",
            type=argparse_type(_checked(option.name)),
            help=f"{option.help} [{option.env}]",
        )


def _checked(name: str) -> Callable[[str], str]:
    """Validate a flag's text now (one-line usage error), but keep the text: `Settings.resolve` takes text."""
    parse = parser_for(name)

    def check(text: str) -> str:
        parse(text)
        return text

    check.__name__ = name
    return check


def _switches(argv: Sequence[str]) -> list[str]:
    """`--read-only` is a switch; `--read-only=true|false` and the older `--read-only true|false` still work."""
    out: list[str] = []
    words = list(argv)
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word == "--":
            out += words[index - 1 :]
            break
        value: str | None = None
        if word.startswith(READ_ONLY_FLAG + "="):
            value = word.split("=", 1)[1]
        elif word == READ_ONLY_FLAG and index < len(words) and words[index].strip().lower() in _BOOLEAN_WORDS:
            value = words[index]
            index += 1
        if value is None:
            out.append(word)
            continue
        try:
            on = parse_bool(value)
        except InvalidValue as exc:
            raise CommandLineError(f"argument {READ_ONLY_FLAG}: '{value}' {exc}") from None
        out.append(READ_ONLY_FLAG if on else NO_READ_ONLY_FLAG)
    return out


_BOOLEAN_WORDS = frozenset({"1", "true", "yes", "on", "0", "false", "no", "off"})


def _flags(args: argparse.Namespace) -> dict[str, str | None]:
    """The settings given as flags (None where a flag was not given), before or after the command.

    The same flag in both places must mean the same value; otherwise `CommandLineError`.
    """
    flags: dict[str, str | None] = {}
    for option in OPTIONS:
        before: str | None = getattr(args, f"{BEFORE}{option.name}", None)
        after: str | None = getattr(args, f"{AFTER}{option.name}", None)
        if before is not None and after is not None:
            parse = parser_for(option.name)
            if parse(before) != parse(after):
                raise CommandLineError(
                    f"{option.flag} is given twice with different values ('{before}' before the command, "
                    f"'{after}' after it); give it once"
                )
        flags[option.name] = after if after is not None else before
    return flags


def _unused_settings(args: argparse.Namespace) -> list[str]:
    """Settings flags given before a command that does not read them (sandbox, fit have options of their own)."""
    return [option.flag for option in OPTIONS if getattr(args, f"{BEFORE}{option.name}", None) is not None]


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.resolve(flags=_flags(args))


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )


def _serve(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    _configure_logging(settings.log_level)
    if settings.transport == "http":
        from sora_mcp.http.serve import serve_http

        return serve_http(settings)
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


SETTINGS_COMMANDS = ("serve", "config", "demo")
"""Commands that build a server from the settings; the others (sandbox, fit) have options of their own."""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="sora-mcp",
        description=(
            "MCP server for Sora-style video APIs. With no command, serves MCP over stdio. Settings flags work "
            "before or after serve, config and demo."
        ),
    )
    _add_settings(parser, BEFORE)
    parser.add_argument("--version", action="version", version=f"sora-mcp {__version__}")
    parser.set_defaults(handler=_serve, command="serve")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    handlers: dict[str, tuple[Handler, str]] = {
        "serve": (_serve, "serve MCP over stdio (the default), or streamable HTTP with --transport http"),
        "config": (_config, "show each setting and where it came from"),
        "demo": (_demo, "walk the whole story as an MCP client against the offline sandbox"),
    }
    for name, (handler, help_text) in handlers.items():
        command = subparsers.add_parser(name, help=help_text)
        _add_settings(command, AFTER)
        command.set_defaults(handler=handler, command=name)
    for module in COMMAND_MODULES:
        _register_optional(subparsers, module)
    for name, command in subparsers.choices.items():
        if name not in SETTINGS_COMMANDS:
            command.set_defaults(command=name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(_switches(sys.argv[1:] if argv is None else argv))
        if args.command not in SETTINGS_COMMANDS and (unused := _unused_settings(args)):
            raise CommandLineError(
                f"{', '.join(unused)} before '{args.command}' would be ignored: '{args.command}' does not read the "
                f"server settings; see 'sora-mcp {args.command} --help' for its own options"
            )
        _flags(args)
    except CommandLineError as exc:
        print(f"sora-mcp: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # argparse: --help, --version, or a usage error already printed on one line
        return exc.code if isinstance(exc.code, int) else 2
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
