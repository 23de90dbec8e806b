"""Fixtures for the video-job tests: a sandbox on loopback that plays the provider, and servers that use it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.types import CallToolResult, TextContent

from sora_mcp.catalog import load_builtin
from sora_mcp.sandbox import SandboxConfig, SandboxServer
from sora_mcp.settings import Settings

CANARY_KEY = "sk-canary-3f9a1c7e5b2d4a6f8e0c"


@pytest.fixture
def provider_sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    """A standalone sandbox that only accepts the canary key: the 'real provider' of these tests."""
    config = SandboxConfig(
        catalog=load_builtin("apiyi"),
        api_key=CANARY_KEY,
        time_scale=0.05,
        storage_dir=tmp_path / "provider-storage",
    )
    with SandboxServer(config) as server:
        yield server


def provider_settings(home: Path, sandbox: SandboxServer, **env: str) -> Settings:
    """Settings for the provider backend pointed at `sandbox`, with all paths inside the test's home."""
    values = {
        "OPENAI_API_KEY": CANARY_KEY,
        "OPENAI_BASE_URL": sandbox.base_url,
        "SORA_MCP_PROFILE": "apiyi",
        "SORA_MCP_HOME": str(home / "data"),
        "SORA_MCP_OUTPUT_DIR": str(home / "out"),
        "SORA_MCP_ALLOWED_DIRS": str(home),
        **env,
    }
    return Settings.resolve(env=values, user_home=home)


def text_of(result: CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


def wire_size(result: CallToolResult) -> int:
    return len(json.dumps(result.model_dump(mode="json", by_alias=True)))


def structured(result: CallToolResult) -> dict[str, Any]:
    assert result.structured_content is not None, text_of(result)
    return dict(result.structured_content)


SORA2_4S = {"model": "sora-2", "seconds": "4", "size": "1280x720"}


def error_of(result: CallToolResult) -> dict[str, Any]:
    """The error a failed call reports: no structuredContent (hosts validate it), the JSON in the second block."""
    assert result.is_error, text_of(result)
    assert result.structured_content is None
    blocks = [b.text for b in result.content if isinstance(b, TextContent)]
    assert len(blocks) == 2, blocks
    data: dict[str, Any] = json.loads(blocks[1])
    assert data["message"] in blocks[0]
    return data
