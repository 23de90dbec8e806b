"""`sora-mcp demo`, the README's first command, end to end in a subprocess with nothing configured."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


def test_the_demo_walks_the_whole_story(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SORA_MCP_"))}
    env.update(HOME=str(tmp_path), SORA_MCP_SANDBOX_TIME_SCALE="0.2", XDG_DATA_HOME=str(tmp_path / "data"))
    script = Path(sys.executable).with_name("sora-mcp")
    command = [str(script), "demo"] if script.exists() else [sys.executable, "-m", "sora_mcp", "demo"]
    work = tmp_path / "cwd"
    work.mkdir()
    completed = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-3000:]
    out = completed.stdout
    assert "Invalid value: '10'. Supported values are: '4', '8', and '12'." in out
    assert "(1280x720, jpeg)" in out
    mp4 = Path(re.search(r"MP4:\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    thumbnail = Path(re.search(r"Thumbnail:\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    assert mp4.is_file() and mp4.stat().st_size > 10_000 and mp4.is_relative_to(tmp_path)
    assert thumbnail.is_file() and thumbnail.read_bytes()[:4] == b"RIFF"
    assert re.search(r"Cost:\s+\$\d+\.\d\d \(sandbox\)", out)
    assert list(work.iterdir()) == []  # nothing written to the working directory


def _demo(tmp_path: Path, *args: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SORA_MCP_"))}
    env.update(HOME=str(tmp_path), SORA_MCP_SANDBOX_TIME_SCALE="0.2", XDG_DATA_HOME=str(tmp_path / "data"))
    env.update(env_vars)
    script = Path(sys.executable).with_name("sora-mcp")
    command = [str(script), *args] if script.exists() else [sys.executable, "-m", "sora_mcp", *args]
    return subprocess.run(command, env=env, cwd="/", capture_output=True, text=True, timeout=120)


def test_the_demo_works_when_the_allowed_dirs_exclude_its_output(tmp_path: Path) -> None:
    """The photo and the fitted image travel as data: URLs, so no folder needs to be allowed for them."""
    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()
    completed = _demo(tmp_path, "demo", SORA_MCP_ALLOWED_DIRS=str(elsewhere))
    assert completed.returncode == 0, completed.stderr[-3000:]
    mp4 = Path(re.search(r"MP4:\s+(\S+)", completed.stdout).group(1))  # type: ignore[union-attr]
    assert mp4.is_file() and not mp4.is_relative_to(elsewhere)
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (("--read-only", "demo"), {}, ["the server is read-only", "run the demo without --read-only"]),
        (("demo",), {"SORA_MCP_READ_ONLY": "true"}, ["the server is read-only", "unset SORA_MCP_READ_ONLY"]),
        (
            ("demo", "--sandbox-daily-budget", "0"),
            {},
            ["create_video failed:", "budget", "from the --sandbox-daily-budget flag; raise it"],
        ),
        (
            ("demo",),
            {"SORA_MCP_SANDBOX_DAILY_BUDGET_USD": "0"},
            ["create_video failed:", "from SORA_MCP_SANDBOX_DAILY_BUDGET_USD; raise it"],
        ),
    ],
)
def test_a_refusing_server_is_reported_in_one_line(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], says: list[str]
) -> None:
    completed = _demo(tmp_path, *args, **env)
    assert completed.returncode == 1, completed.stderr[-3000:]
    assert "Traceback" not in completed.stderr and "ExceptionGroup" not in completed.stderr, completed.stderr[-3000:]
    [line] = [line for line in completed.stderr.splitlines() if line.startswith("demo:")]
    for text in says:
        assert text in line, line
    assert "5. done" not in completed.stdout


def test_a_server_that_cannot_start_is_reported_in_one_line_after_its_reason(tmp_path: Path) -> None:
    completed = _demo(tmp_path, "demo", "--catalog", str(tmp_path / "missing.json"))
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr and "ExceptionGroup" not in completed.stderr, completed.stderr[-3000:]
    assert "missing.json cannot be read" in completed.stderr  # the server's own reason, on its stderr
    [line] = [line for line in completed.stderr.splitlines() if line.startswith("demo:")]
    assert "lost the server" in line
