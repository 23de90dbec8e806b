"""Every client configuration in the README starts a working server, launched the way a client launches it.

The configurations are read out of README.md ("Use it from an MCP client"), the placeholder paths replaced by
the real ones (`/path/to/clone` is this checkout, `/path/to/clone/.venv/bin/sora-mcp` what `which sora-mcp`
prints in the venv running the tests, `/path/to/uvx` what `which uvx` prints). Each server is started with a
minimal PATH (`/usr/bin:/bin`), `/` as working directory and no environment beyond what the configuration gives
(plus the few variables the MCP SDK's stdio client always passes: HOME, USER, ...), and must answer
`initialize` and `tools/list`.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import StdioServerParameters
from mcp.client.session import ClientSession
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Use it from an MCP client"
CLIENT_PATH = "/usr/bin:/bin"
PLACEHOLDER_SCRIPT = "/path/to/clone/.venv/bin/sora-mcp"
PLACEHOLDER_CLONE = "/path/to/clone"
PLACEHOLDER_UVX = "/path/to/uvx"
EXPECTED_TOOLS = {"list_models", "validate_params", "create_video", "get_video_status"}


def readme_configs() -> list[tuple[str, dict[str, Any]]]:
    """(label, server entry) for every server in the section's JSON blocks."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end != -1 else len(text)]
    configs: list[tuple[str, dict[str, Any]]] = []
    for number, block in enumerate(re.findall(r"```json\n(.*?)```", section, re.DOTALL), start=1):
        document = json.loads(block)
        servers = document.get("mcpServers") or document.get("servers")
        assert isinstance(servers, dict) and servers, f"JSON block {number} names no servers"
        for name, entry in servers.items():
            configs.append((f"block{number}-{name}-{Path(entry['command']).name}", entry))
    return configs


def _console_script() -> Path:
    return Path(sys.executable).with_name("sora-mcp")


def _uvx() -> str | None:
    return os.environ.get("UVX") or shutil.which("uvx")


def _real(text: str) -> str:
    uvx = _uvx()
    text = text.replace(PLACEHOLDER_SCRIPT, str(_console_script())).replace(PLACEHOLDER_CLONE, str(ROOT))
    return text.replace(PLACEHOLDER_UVX, uvx) if uvx else text


def _machine_env(command: str) -> dict[str, str]:
    """What this test machine, not the configuration, needs for uv: its package cache and its TLS trust store."""
    if Path(command).name != "uvx":
        return {}
    real_home = pwd.getpwuid(os.getuid()).pw_dir
    env = {"UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", str(Path(real_home) / ".cache" / "uv"))}
    if "SSL_CERT_FILE" in os.environ:
        env["SSL_CERT_FILE"] = os.environ["SSL_CERT_FILE"]
    return env


def test_the_readme_configures_no_command_that_a_client_cannot_find() -> None:
    configs = readme_configs()
    assert len(configs) >= 4
    for label, entry in configs:
        command = entry["command"]
        assert command.startswith("/"), f"{label}: '{command}' is not an absolute path; clients have a minimal PATH"
        assert "sora-mcp" not in entry["args"][:1] or "--from" in entry["args"], f"{label}: would fetch from PyPI"
        args = entry["args"]
        if Path(command).name == "uvx":  # the tool must come from the clone, never from a package index
            assert args[args.index("--from") + 1] == PLACEHOLDER_CLONE, label


@pytest.mark.anyio
@pytest.mark.parametrize(("label", "entry"), readme_configs(), ids=[label for label, _ in readme_configs()])
async def test_each_readme_configuration_starts_and_lists_tools(label: str, entry: dict[str, Any]) -> None:
    command = _real(entry["command"])
    if PLACEHOLDER_UVX in command:
        pytest.skip("uvx is not installed here (set UVX=/path/to/uvx or put it on PATH)")
    if not Path(command).is_file():
        pytest.fail(f"{label}: {command} does not exist; the README's command is wrong or not installed")
    env = {"PATH": CLIENT_PATH, **_machine_env(command), **entry.get("env", {})}
    params = StdioServerParameters(command=command, args=[_real(a) for a in entry["args"]], env=env, cwd="/")
    errlog_path = Path(os.environ["HOME"]) / f"{label}.stderr"
    with errlog_path.open("w") as errlog:
        try:
            with anyio.fail_after(180):
                async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
                    init = await session.initialize()
                    tools = {t.name for t in (await session.list_tools()).tools}
        except (TimeoutError, Exception) as exc:
            errlog.flush()
            stderr = errlog_path.read_text(errors="replace")[-3000:]
            raise AssertionError(f"{label}: {command} did not answer ({exc!r}); its stderr:\n{stderr}") from None
    assert init.server_info.name == "sora-mcp"
    assert tools >= EXPECTED_TOOLS, (label, tools)
