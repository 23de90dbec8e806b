"""Shared fixtures. Every test is isolated from the user's real files and environment (as simonw/llm does)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sora_mcp.settings import Settings
from tests.postgres_support import postgres_cluster, postgres_url
from tests.videos_support import provider_sandbox

__all__ = ["postgres_cluster", "postgres_url", "provider_sandbox"]

_LEAKY_PREFIXES = ("OPENAI_", "SORA_MCP_", "AZURE_OPENAI_")


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No test reads the developer's keys or writes to their home: HOME and all our variables are scrubbed."""
    import os

    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith(_LEAKY_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("SORA_MCP_HOME", str(home / "sora-home"))
    monkeypatch.setenv("SORA_MCP_OUTPUT_DIR", str(home / "out"))
    yield home


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sandbox_settings(isolated_environment: Path) -> Settings:
    """Settings for the sandbox backend with every path inside the test's temporary home."""
    return Settings.resolve(
        env={
            "SORA_MCP_HOME": str(isolated_environment / "sora-home"),
            "SORA_MCP_OUTPUT_DIR": str(isolated_environment / "out"),
            "SORA_MCP_ALLOWED_DIRS": str(isolated_environment),
        },
        user_home=isolated_environment,
    )
