"""Generate the README's tool, configuration and profile tables from the code, so the docs cannot drift.

`python -m sora_mcp.docs` rewrites the marked sections of README.md; a test fails when they are stale.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from sora_mcp.catalog import BUILTIN_PROFILES, ModelSpec, load_builtin
from sora_mcp.listing import SHORT_SIDES, resolution_of
from sora_mcp.settings import OPTIONS, Settings
from sora_mcp.sizes import Size

TOOLS_START, TOOLS_END = "<!-- tools:start -->", "<!-- tools:end -->"
CONFIG_START, CONFIG_END = "<!-- config:start -->", "<!-- config:end -->"
PROFILES_START, PROFILES_END = "<!-- profiles:start -->", "<!-- profiles:end -->"
PROFILE_NOTES = {
    "apiyi": "default on the sandbox",
    "openai": "default with a key",
    "openrouter": "default for openrouter.ai",
}
MAX_LISTED_SIZES = 6


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


def _sizes_text(sizes: tuple[str, ...]) -> str:
    if len(sizes) <= MAX_LISTED_SIZES:
        return ", ".join(sizes)
    tiers = sorted({resolution_of(Size.parse(s)) for s in sizes}, key=lambda t: SHORT_SIDES[t])
    return f"{len(sizes)} sizes, {'/'.join(tiers)}"


def _shape_cells(model: ModelSpec) -> tuple[str, str]:
    def seconds_text(seconds: tuple[int, ...]) -> str:
        if len(seconds) > MAX_LISTED_SIZES and seconds == tuple(range(seconds[0], seconds[-1] + 1)):
            return f"{seconds[0]}-{seconds[-1]}"
        return ", ".join(str(s) for s in seconds)

    rectangles = model.rectangles()
    if len(rectangles) == 1:
        return seconds_text(model.seconds), _sizes_text(model.sizes)
    sizes = "; ".join(f"{_sizes_text(z)} at {seconds_text(secs)} s" for secs, z in rectangles)
    return seconds_text(model.seconds), sizes


def _price_cell(model: ModelSpec) -> str:
    if model.price_per_request_usd is not None:
        return f"${model.price_per_request_usd:g} per video"
    rates = sorted(set((model.price_per_second_usd or {}).values()))
    if not rates:
        return "per token" if model.price_note and "token" in model.price_note else "unknown"
    text = f"${rates[0]:g}" + (f"-{rates[-1]:g}" if len(rates) > 1 else "") + "/s"
    loud = sorted(set((model.price_per_second_with_audio_usd or {}).values()))
    if loud:
        text += f" ({loud[0]:g}" + (f"-{loud[-1]:g}" if len(loud) > 1 else "") + " with audio)"
    return text


def _options_cell(model: ModelSpec) -> str:
    parts = [f"audio {model.audio}"]
    if model.seed:
        parts.append("seed")
    if model.last_frame:
        parts.append("last frame")
    elif not model.frame_images:
        parts.append("no image input")
    return ", ".join(parts)


def _status_cell(model: ModelSpec) -> str:
    if model.retirement is not None:
        hosts = f" on {', '.join(model.retirement.hosts)}" if model.retirement.hosts else ""
        return f"retired {model.retirement.date.isoformat()}{hosts}"
    return model.status


def profiles_table() -> str:
    """One row per model of every built-in profile, from the catalogs themselves."""
    rows = [
        "| profile (dialect) | model | durations (s) | sizes | length on the wire | options | price | status |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for profile in BUILTIN_PROFILES:
        catalog = load_builtin(profile)
        note = PROFILE_NOTES.get(profile)
        label = f"`{profile}` ({catalog.dialect}" + (f"; {note})" if note else ")")
        for index, model in enumerate(catalog):
            name = f"`{model.id}`"
            if model.deployment:
                name = "your deployment (`SORA_MCP_AZURE_DEPLOYMENT`)"
            elif model.aliases:
                name += f" (+ {len(model.aliases)} snapshot{'s' if len(model.aliases) > 1 else ''})"
            durations, sizes = _shape_cells(model)
            wire = f"`{model.duration_param}`, {model.seconds_wire}"
            rows.append(
                f"|{f' {label} ' if index == 0 else ' '}| {name} | {durations} | {sizes} | {wire} "
                f"| {_options_cell(model)} | {_price_cell(model)} | {_status_cell(model)} |"
            )
        for listed in catalog.listed_only:
            rows.append(f"| | `{listed.id}` | listed, not creatable: {listed.reason} | | | | | |")
        if catalog.source:
            rows.append(f"| | *source: {catalog.source}* | | | | | | |")
    return "\n".join(rows)


def _replace(text: str, start: str, end: str, body: str) -> str:
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"README.md has no {start} ... {end} section")
    return pattern.sub(lambda _: f"{start}\n{body}\n{end}", text)


def render_readme(text: str) -> str:
    text = _replace(text, TOOLS_START, TOOLS_END, tools_table())
    text = _replace(text, CONFIG_START, CONFIG_END, config_table())
    return _replace(text, PROFILES_START, PROFILES_END, profiles_table())


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
