"""Build the Claude Desktop bundle: `python mcpb/build.py [OUT.mcpb]` (needs Node's npx; default dist/sora-mcp.mcpb).

A bundle is a zip of one folder with `manifest.json` at its top. The manifest here declares a `uv` server: the
host creates the environment from the bundled `pyproject.toml`, so no compiled dependency (pydantic, numpy,
PyAV) has to be packed for each platform. This script stages the manifest, the project files and the
`sora_mcp` package into a folder and packs it with the pinned `@anthropic-ai/mcpb` CLI.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MCPB = "@anthropic-ai/mcpb@2.1.2"
"""The bundle tool, pinned: `npx -y @anthropic-ai/mcpb@2.1.2 ...`."""
PROJECT_FILES = ("pyproject.toml", "README.md", "LICENSE")


def stage(folder: Path) -> Path:
    """Copy what the bundle needs into `folder` (created); return it."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "mcpb" / "manifest.json", folder / "manifest.json")
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, folder / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "sora_mcp", folder / "sora_mcp", ignore=skip, dirs_exist_ok=True)
    return folder


def mcpb(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the pinned mcpb CLI."""
    npx = shutil.which("npx")
    if npx is None:
        raise SystemExit("mcpb/build.py needs npx (Node.js) on PATH")
    return subprocess.run([npx, "-y", MCPB, *args], capture_output=True, text=True, timeout=600, cwd=cwd)


def build(out: Path) -> Path:
    """Stage and pack the bundle into `out`; raise with mcpb's output when it fails."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sora-mcp-bundle-") as temp:
        folder = stage(Path(temp) / "sora-mcp")
        packed = mcpb("pack", str(folder), str(out.resolve()))
        if packed.returncode != 0 or not out.is_file():
            raise RuntimeError(f"mcpb pack failed ({packed.returncode}):\n{packed.stdout}\n{packed.stderr}")
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "dist" / "sora-mcp.mcpb"
    sys.stdout.write(f"{build(target)}\n")
