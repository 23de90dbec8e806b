"""`sora-mcp serve` as a real subprocess over stdio, the way Claude Desktop and IDEs run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from sora_mcp.sandbox import SandboxServer
from tests.videos_support import CANARY_KEY, SORA2_4S
from tests.wrong_values import WRONG_VALUES, check_row

pytestmark = pytest.mark.anyio


def _console_script() -> str:
    script = Path(sys.executable).with_name("sora-mcp")
    return str(script) if script.exists() else sys.executable


def _params(*extra: str) -> StdioServerParameters:
    command = _console_script()
    args = ["serve", *extra] if command != sys.executable else ["-m", "sora_mcp", "serve", *extra]
    return StdioServerParameters(command=command, args=args, env=dict(os.environ), cwd="/")


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_wrong_values_table_over_stdio(mode: str) -> None:
    async with Client(_params(), mode=mode) as client:
        assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"list_models", "validate_params"} <= names
        for model, wanted, fixes in WRONG_VALUES:
            result = await client.call_tool("validate_params", {"model": model, "seconds": wanted})
            assert not result.is_error
            assert result.structured_content is not None
            check_row(result.structured_content, model, wanted, fixes)


def _rpc(process: subprocess.Popen[str], message: dict[str, Any]) -> dict[str, Any]:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(message) + "\n")
    process.stdin.flush()
    while True:
        line = process.stdout.readline()
        assert line, "server closed stdout"
        reply: dict[str, Any] = json.loads(line)  # stdout carries nothing but protocol messages
        if reply.get("id") == message.get("id"):
            return reply


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25"])
def test_handshake_versions_used_by_clients_in_the_field(version: str) -> None:
    params = _params()
    process = subprocess.Popen(
        [params.command, *params.args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=params.env,
        cwd="/",
    )
    try:
        init = _rpc(
            process,
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": version,
                    "capabilities": {},
                    "clientInfo": {"name": "field-client", "version": "1"},
                },
            },
        )
        assert init["result"]["protocolVersion"] == version
        assert init["result"]["serverInfo"]["name"] == "sora-mcp"
        assert process.stdin is not None
        process.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
        listed = _rpc(process, {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
        tools = {t["name"]: t for t in listed["result"]["tools"]}
        assert tools["validate_params"]["annotations"]["readOnlyHint"] is True
        called = _rpc(
            process,
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": "validate_params", "arguments": {"model": "sora-2", "duration": 10}},
            },
        )
        verdict = called["result"]["structuredContent"]
        assert verdict["errors"][0]["message"] == "Invalid value: '10'. Supported values are: '4', '8', and '12'."
        assert verdict["alternatives"][0]["model"] == "sora-2-pro"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_a_bad_configuration_fails_fast_on_stderr() -> None:
    params = _params("--profile", "nope")
    completed = subprocess.run(
        [params.command, *params.args], capture_output=True, text=True, env=params.env, timeout=60, cwd="/"
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert "unknown profile 'nope'" in completed.stderr


def test_a_video_over_stdio_never_leaks_the_key(tmp_path: Path, provider_sandbox: SandboxServer) -> None:
    """A whole job through a real subprocess with DEBUG logs: the key appears in no message and no log line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SORA_MCP_"))}
    env.update(
        OPENAI_API_KEY=CANARY_KEY,
        OPENAI_BASE_URL=provider_sandbox.base_url,
        SORA_MCP_PROFILE="apiyi",
        SORA_MCP_HOME=str(tmp_path / "data"),
        SORA_MCP_OUTPUT_DIR=str(tmp_path / "out"),
        SORA_MCP_LOG_LEVEL="DEBUG",
        HOME=str(tmp_path),
    )
    params = _params()
    process = subprocess.Popen(
        [params.command, *params.args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd="/",
    )
    try:
        _rpc(
            process,
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "t", "version": "1"},
                },
            },
        )
        assert process.stdin is not None
        process.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
        created = _rpc(
            process,
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {
                    "name": "create_video",
                    "arguments": {"prompt": "harbour lights", "video": SORA2_4S, "wait_seconds": 20},
                    "_meta": {"progressToken": "p1"},
                },
            },
        )
        job = created["result"]["structuredContent"]
        assert job["status"] == "completed", created
        assert Path(job["files"]["video"]).is_file()
        bad = _rpc(
            process,
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": "get_video_status", "arguments": {"video_id": "nope"}},
            },
        )
        assert bad["result"]["isError"] is True
    finally:
        process.terminate()
        out, err = process.communicate(timeout=20)
    assert CANARY_KEY not in out and CANARY_KEY not in err
    assert "DEBUG" in err or "INFO" in err  # logging really was on, and on stderr
