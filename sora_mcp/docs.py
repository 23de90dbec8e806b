"""Generate the README's tool and configuration tables from the code, so the docs cannot drift.

`python -m sora_mcp.docs` rewrites the marked sections of README.md; a test fails when they are stale.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from sora_mcp.settings import OPTIONS, Settings

TOOLS_START, TOOLS_END = "<!-- tools:start -->", "<!-- tools:end -->"
CONFIG_START, CONFIG_END = "<!-- config:start -->", "<!-- config:end -->"


def _first_sentence(text: str) -> str:
    match = re.match(r"(.+?[.!?])(\s|$)", " ".join(text.split()))
    return match.group(1) if match else text.strip()


def tools_table() -> str:
    from sora_mcp.runtime import Runtime
    from sora_mcp.server import build_tools

    settings = Settings.resolve(env={}, user_home=Path("/nonexistent-home"))
    runtime = Runtime.create(settings)
    rows = ["| tool | what it does | read-only | destructive | idempotent |", "|---|---|---|---|---|"]
    for tool in build_tools(runtime):
        hints = tool.annotations
        assert hints is not None, f"{tool.name} has no annotations"

        def mark(flag: bool | None) -> str:
            return "yes" if flag else "no"

        rows.append(
            f"| `{tool.name}` | {_first_sentence(tool.description)} | {mark(hints.read_only_hint)} "
            f"| {mark(hints.destructive_hint)} | {mark(hints.idempotent_hint)} |"
        )
    return "\n".join(rows)


def config_table() -> str:
    rows = ["| environment variable | flag | meaning |", "|---|---|---|"]
    rows += [f"| `{o.env}` | `{o.flag}` | {o.help}{' (secret: never shown)' if o.secret else ''} |" for o in OPTIONS]
    return "\n".join(rows)


def _replace(text: str, start: str, end: str, body: str) -> str:
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"README.md has no {start} ... {end} section")
    return pattern.sub(lambda _: f"{start}\n{body}\n{end}", text)


def render_readme(text: str) -> str:
    text = _replace(text, TOOLS_START, TOOLS_END, tools_table())
    return _replace(text, CONFIG_START, CONFIG_END, config_table())


def main() -> int:
    path = Path(__file__).resolve().parents[1] / "README.md"
    current = path.read_text(encoding="utf-8")
    updated = render_readme(current)
    if updated != current:
        path.write_text(updated, encoding="utf-8")
        sys.stderr.write("README.md tables regenerated\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
