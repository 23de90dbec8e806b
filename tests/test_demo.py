"""`sora-mcp demo`, the README's first command, end to end in a subprocess with nothing configured."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


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
