"""The `sora-mcp` command line: a settings flag works before and after the command, or the command refuses.

A safety flag that is silently dropped is worse than an error, so every check here runs the real thing: `main()`
in-process for `config`, real `sora-mcp` subprocesses for usage errors, and real stdio servers driven by the
MCP SDK's client for what `serve` actually exposes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from sora_mcp.cli import main
from sora_mcp.sandbox import SandboxServer
from tests.videos_support import CANARY_KEY

READ_ONLY_TOOLS = {"list_models", "validate_params", "list_videos", "plan_long_video"}
SORA2_4S = {"model": "sora-2", "seconds": "4", "size": "1280x720"}


def _command(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("sora-mcp")
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "sora_mcp", *args]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_command(*args), capture_output=True, text=True, timeout=60, env=dict(os.environ), cwd="/")


def _config_value(out: str, name: str) -> tuple[str, str]:
    """(source, value) of one setting in `sora-mcp config`'s output."""
    line = next(line for line in out.splitlines() if line.strip().startswith(f"{name} "))
    _, _env, source, *value = line.split()
    return source, " ".join(value)


@pytest.mark.parametrize(
    "argv",
    [
        ["--read-only", "--daily-budget", "0", "config"],
        ["config", "--read-only", "--daily-budget", "0"],
        ["--read-only", "config", "--daily-budget", "0"],
        ["--read-only=true", "--daily-budget=0", "config"],
        ["--read-only", "true", "config", "--daily-budget", "0.0"],
        ["--daily-budget", "0", "config", "--read-only=yes", "--daily-budget", "0"],
    ],
)
def test_settings_flags_count_before_and_after_the_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert _config_value(out, "read_only") == ("flag", "True")
    assert _config_value(out, "daily_budget_usd") == ("flag", "0.0")
    assert _config_value(out, "sandbox_time_scale") == ("default", "1.0")


def test_config_reports_flag_over_environment_over_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SORA_MCP_PROFILE", "openai")
    monkeypatch.setenv("SORA_MCP_READ_ONLY", "true")
    monkeypatch.setenv("SORA_MCP_SANDBOX_TIME_SCALE", "0.5")
    assert main(["--profile", "azure", "--no-read-only", "config"]) == 0
    out = capsys.readouterr().out
    assert _config_value(out, "profile") == ("flag", "azure")
    assert _config_value(out, "read_only") == ("flag", "False")
    assert _config_value(out, "sandbox_time_scale") == ("env", "0.5")
    assert _config_value(out, "log_level") == ("default", "WARNING")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--daily-budget", "0", "serve", "--daily-budget", "5"], "--daily-budget is given twice with different"),
        (["--read-only", "config", "--no-read-only"], "--read-only is given twice with different values"),
        (["--time-scale", "0.2", "sandbox"], "--time-scale before 'sandbox' would be ignored"),
        (["--output-dir", "/tmp/x", "fit", "a.jpg", "--size", "1280x720"], "--output-dir before 'fit' would be"),
        (["--read-only=maybe", "serve"], "'maybe' is not a boolean; use true or false"),
    ],
)
def test_contradictions_and_ignored_flags_are_refused(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("argv", "limit"),
    [
        (["sandbox", "--port", "99999"], "'99999' is out of range; use 0 to 65535"),
        (["sandbox", "--port", "-1"], "'-1' is out of range; use 0 to 65535"),
        (["sandbox", "--port", "http"], "'http' is not a port number; use 0 to 65535"),
        (["sandbox", "--time-scale", "0"], "'0' must be greater than 0 and at most 100"),
        (["sandbox", "--time-scale", "-1"], "'-1' must be greater than 0 and at most 100"),
        (["sandbox", "--job-seconds", "1e9"], "must be from 0 to 3600 seconds"),
        (["--time-scale", "0", "serve"], "argument --time-scale: '0' must be greater than 0"),
        (["serve", "--time-scale", "nan"], "argument --time-scale: 'nan' must be a finite number"),
        (["config", "--daily-budget", "-1"], "argument --daily-budget: '-1' must be 0 or more"),
        (["--daily-budget", "ten", "demo"], "'ten' is not a number of US dollars"),
        (["--duplicate-window", "-5", "serve"], "'-5' must be a finite number, 0 or more"),
        (["--log-level", "LOUD"], "'LOUD' is not DEBUG, INFO, WARNING or ERROR"),
        (["--backend", "cloud", "serve"], "'cloud' is not a backend"),
        (["fit", "x.jpg", "--size", "99999x99999"], "width and height must each be at most 8192"),
        (["fit", "x.jpg", "--size", "1280x720", "--jobs", "0"], "'0' is out of range; the number of processes is 1"),
        (["bogus"], "invalid choice: 'bogus'"),
    ],
)
def test_bad_values_get_one_line_naming_the_limit(argv: list[str], limit: str) -> None:
    completed = _run(*argv)
    assert completed.returncode == 2, (completed.returncode, completed.stderr)
    assert completed.stdout == ""
    assert limit in completed.stderr
    assert completed.stderr.count("\n") == 1 and "Traceback" not in completed.stderr, completed.stderr


def _serve(*args: str, **env: str) -> StdioServerParameters:
    command, *rest = _command(*args)
    return StdioServerParameters(command=command, args=rest, env={**os.environ, **env}, cwd="/")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "args",
    [("--read-only", "serve"), ("serve", "--read-only"), ("--read-only", "true", "serve"), ("--read-only",)],
)
async def test_read_only_before_or_after_serve_hides_every_writing_tool(args: tuple[str, ...]) -> None:
    async with Client(_serve(*args), mode="legacy") as client:
        tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == READ_ONLY_TOOLS
    assert all(t.annotations is not None and t.annotations.read_only_hint for t in tools)


@pytest.mark.anyio
async def test_without_read_only_the_server_offers_the_writing_tools() -> None:
    """The check above can fail: the same server without the flag has create_video."""
    async with Client(_serve("serve"), mode="legacy") as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert {"create_video", "fit_reference_image", "delete_video"} <= names


@pytest.mark.anyio
@pytest.mark.parametrize("args", [("--sandbox-daily-budget", "0", "serve"), ("serve", "--sandbox-daily-budget", "0")])
async def test_a_zero_budget_before_or_after_serve_forbids_creating(args: tuple[str, ...]) -> None:
    async with Client(_serve(*args), mode="legacy") as client:
        refused = await client.call_tool("create_video", {"prompt": "a test", "video": SORA2_4S, "wait_seconds": 0})
        listing = await client.call_tool("list_videos", {})
    assert refused.is_error
    assert listing.structured_content is not None and listing.structured_content["jobs"] == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("args", "refused"),
    [
        (("--daily-budget", "0", "serve"), True),
        (("serve", "--daily-budget", "0"), True),
        (("serve",), False),  # the same provider without the flag takes the job: the check can fail
    ],
)
async def test_a_zero_daily_budget_before_or_after_serve_stops_a_paid_create(
    args: tuple[str, ...], refused: bool, provider_sandbox: SandboxServer
) -> None:
    provider = {"OPENAI_API_KEY": CANARY_KEY, "OPENAI_BASE_URL": provider_sandbox.base_url, "SORA_MCP_PROFILE": "apiyi"}
    async with Client(_serve(*args, **provider), mode="legacy") as client:
        result = await client.call_tool("create_video", {"prompt": "a test", "video": SORA2_4S, "wait_seconds": 0})
    assert result.is_error is refused
    assert len(provider_sandbox.state.jobs) == (0 if refused else 1)
