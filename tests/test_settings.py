from __future__ import annotations

from pathlib import Path

import pytest

from sora_mcp.cli import main
from sora_mcp.settings import Settings, SettingsError

CANARY = "sk-canary-0123456789abcdef"


def test_flag_beats_environment_beats_default(tmp_path: Path) -> None:
    env = {"SORA_MCP_PROFILE": "openai", "SORA_MCP_DAILY_BUDGET_USD": "3"}
    settings = Settings.resolve(flags={"profile": "azure"}, env=env, user_home=tmp_path)
    assert settings.profile == "azure" and settings.sources["profile"] == "flag"
    assert settings.daily_budget_usd == 3 and settings.sources["daily_budget_usd"] == "env"
    assert settings.sandbox_time_scale == 1.0 and settings.sources["sandbox_time_scale"] == "default"


def test_backend_follows_the_key(tmp_path: Path) -> None:
    offline = Settings.resolve(env={}, user_home=tmp_path)
    assert (offline.backend, offline.profile, offline.base_url) == ("sandbox", "apiyi", None)
    online = Settings.resolve(env={"OPENAI_API_KEY": CANARY}, user_home=tmp_path)
    assert (online.backend, online.profile) == ("provider", "openai")
    assert online.base_url == "https://api.openai.com/v1" and online.sources["base_url"] == "derived"
    forced = Settings.resolve(env={"OPENAI_API_KEY": CANARY, "SORA_MCP_BACKEND": "sandbox"}, user_home=tmp_path)
    assert forced.backend == "sandbox"


def test_output_dir_is_never_the_working_directory(tmp_path: Path) -> None:
    settings = Settings.resolve(env={}, user_home=tmp_path)
    assert settings.output_dir == tmp_path / "sora-mcp"
    (tmp_path / "Videos").mkdir()
    assert Settings.resolve(env={}, user_home=tmp_path).output_dir == tmp_path / "Videos" / "sora-mcp"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SORA_MCP_BACKEND": "cloud"}, "SORA_MCP_BACKEND='cloud' is not a backend; use 'sandbox' or 'provider'"),
        ({"SORA_MCP_BACKEND": "provider"}, "the provider backend needs an API key"),
        ({"SORA_MCP_DAILY_BUDGET_USD": "ten"}, "SORA_MCP_DAILY_BUDGET_USD='ten' is not a number"),
        ({"SORA_MCP_DAILY_BUDGET_USD": "-1"}, "must be 0 or more"),
        ({"SORA_MCP_READ_ONLY": "maybe"}, "is not a boolean"),
        ({"SORA_MCP_SANDBOX_TIME_SCALE": "0"}, "must be greater than 0"),
        ({"SORA_MCP_DATABASE_URL": "mysql://x@h/db"}, "SORA_MCP_DATABASE_URL='mysql://x@h/db' is not a database URL"),
    ],
)
def test_bad_settings_say_what_and_how_to_fix(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.resolve(env=env, user_home=tmp_path)
    assert message in str(info.value)


def test_config_command_reports_sources_and_hides_the_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    monkeypatch.setenv("OPENAI_BASE_URL", "https://gateway.example/v1")
    assert main(["config", "--profile", "apiyi"]) == 0
    out = capsys.readouterr().out
    assert CANARY not in out and CANARY[-4:] not in out
    assert "(set, hidden)" in out
    profile_line = next(line for line in out.splitlines() if line.strip().startswith("profile "))
    assert "flag" in profile_line and "apiyi" in profile_line
    base_line = next(line for line in out.splitlines() if line.strip().startswith("base_url "))
    assert "env" in base_line and "gateway.example" in base_line


def test_config_shows_where_the_database_is_but_never_its_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SORA_MCP_DATABASE_URL", "postgresql://sora:pw-canary-42@db.internal:5432/jobs?password=q-99")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.strip().startswith("database_url "))
    assert "SORA_MCP_DATABASE_URL" in line and "env" in line
    assert "postgresql://sora:***@db.internal:5432/jobs?password=***" in line
    assert "pw-canary-42" not in out and "q-99" not in out
    assert main(["config", "--database-url", "sqlite:////srv/ledger.sqlite3"]) == 0
    assert "sqlite:////srv/ledger.sqlite3" in capsys.readouterr().out


def test_cli_reports_bad_configuration_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--profile", "sora-9"]) == 2
    captured = capsys.readouterr()
    assert "unknown profile 'sora-9'" in captured.err


def test_read_only_mode_keeps_only_read_only_tools(tmp_path: Path) -> None:
    from sora_mcp.runtime import Runtime
    from sora_mcp.server import build_tools

    settings = Settings.resolve(env={"SORA_MCP_READ_ONLY": "true"}, user_home=tmp_path)
    tools = build_tools(Runtime.create(settings))
    assert tools and all(t.annotations is not None and t.annotations.read_only_hint for t in tools)
