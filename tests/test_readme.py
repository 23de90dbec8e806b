"""The README stays true: generated tables match the code, and the quick start commands are the real ones."""

from __future__ import annotations

import re
from pathlib import Path

from sora_mcp.docs import render_readme

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_generated_tables_are_current() -> None:
    assert render_readme(README) == README, "README tables are stale: run `python -m sora_mcp.docs` and commit"


def test_every_tool_is_documented() -> None:
    from sora_mcp.docs import tools_table

    names = re.findall(r"^\| `([a-z_]+)` \|", tools_table(), flags=re.MULTILINE)
    assert names and all(f"`{n}`" in README for n in names)


def test_ci_runs_the_readmes_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "<!-- test-command -->" in ci
    block = README.split("<!-- test-command -->", 1)[1]
    command = block.split("```bash\n", 1)[1].split("\n", 1)[0]
    assert "pytest" in command and "pip install" in command and "venv" in command


def test_quick_start_runs_the_demo() -> None:
    assert re.search(r"```bash\n.*pip install \. && sora-mcp demo\n```", README)
