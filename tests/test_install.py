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


# The Claude Desktop bundle (mcpb/manifest.json, packed by mcpb/build.py with the pinned @anthropic-ai/mcpb).

MANIFEST = ROOT / "mcpb" / "manifest.json"


def _build_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("mcpb_build", ROOT / "mcpb" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _need_npx() -> None:
    if shutil.which("npx") is None:
        pytest.skip("npx (Node.js) is not installed")


def _manifest() -> dict[str, Any]:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_mcpb_validates_the_manifest_and_rejects_a_broken_one(tmp_path: Path) -> None:
    _need_npx()
    build = _build_module()
    valid = build.mcpb("validate", str(MANIFEST))
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert "validation passes" in valid.stdout
    broken = _manifest()
    broken["server"]["type"] = "docker"
    del broken["author"]
    (tmp_path / "manifest.json").write_text(json.dumps(broken), encoding="utf-8")
    invalid = build.mcpb("validate", str(tmp_path / "manifest.json"))
    assert invalid.returncode != 0 and "author" in invalid.stdout + invalid.stderr


def test_the_manifest_agrees_with_the_project_and_the_server() -> None:
    import tomllib

    from sora_mcp.runtime import Runtime
    from sora_mcp.server import build_tools
    from sora_mcp.settings import OPTIONS, Settings

    manifest = _manifest()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    server_json = json.loads((ROOT / "server.json").read_text(encoding="utf-8"))
    assert manifest["version"] == project["version"] == server_json["version"]
    assert manifest["description"] == server_json["description"]
    assert manifest["license"] == project["license"] == "MIT"
    assert manifest["compatibility"]["runtimes"]["python"] == project["requires-python"]
    config = manifest["server"]["mcp_config"]
    settings_env = {o.env for o in OPTIONS}
    for variable, value in config["env"].items():
        assert variable in settings_env, f"{variable} is not a setting sora-mcp reads"
        key = re.fullmatch(r"\$\{user_config\.(\w+)\}", value)
        assert key is not None and key.group(1) in manifest["user_config"], value
    assert manifest["user_config"]["api_key"]["sensitive"] is True
    home = Path(os.environ["HOME"])
    tools = build_tools(Runtime.create(Settings.resolve(env={"SORA_MCP_HOME": str(home / "h")}, user_home=home)))
    assert [t["name"] for t in manifest["tools"]] == [t.name for t in tools]


@pytest.mark.anyio
async def test_the_packed_bundle_starts_as_claude_desktop_starts_it(tmp_path: Path) -> None:
    """Pack, unpack, substitute ${__dirname} and the user_config defaults, run mcp_config with uv: tools/list."""
    import zipfile

    _need_npx()
    bundle = _build_module().build(tmp_path / "sora-mcp.mcpb")
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        assert {"manifest.json", "pyproject.toml", "README.md", "LICENSE", "sora_mcp/server.py"} <= names
        assert not any("__pycache__" in name for name in names)
        assert "sora_mcp/catalogs/openai.json" in names
        archive.extractall(tmp_path / "installed")
    uvx = _uvx()
    uv = shutil.which("uv") or (str(Path(uvx).with_name("uv")) if uvx else None)
    if uv is None or not Path(uv).is_file():
        pytest.skip("uv is not installed here (set UVX=/path/to/uvx or put uv on PATH)")
    manifest = json.loads((tmp_path / "installed" / "manifest.json").read_text(encoding="utf-8"))
    values = {f"${{user_config.{k}}}": str(v.get("default", "")) for k, v in manifest["user_config"].items()}
    values["${__dirname}"] = str(tmp_path / "installed")

    def substitute(text: str) -> str:
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text

    config = manifest["server"]["mcp_config"]
    assert config["command"] == "uv"
    env = {"PATH": CLIENT_PATH, **_machine_env("uvx"), **{k: substitute(v) for k, v in config["env"].items()}}
    params = StdioServerParameters(command=uv, args=[substitute(a) for a in config["args"]], env=env, cwd="/")
    with (tmp_path / "bundle.stderr").open("w") as errlog:
        try:
            with anyio.fail_after(300):
                async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
                    init = await session.initialize()
                    tools = [t.name for t in (await session.list_tools()).tools]
        except Exception as exc:
            errlog.flush()
            stderr = (tmp_path / "bundle.stderr").read_text(errors="replace")[-3000:]
            raise AssertionError(f"the bundle did not answer ({exc!r}); its stderr:\n{stderr}") from None
    assert init.server_info.name == "sora-mcp"
    assert tools == [t["name"] for t in manifest["tools"]]
