from __future__ import annotations

import pytest
from mcp import Client

from sora_mcp.server import build_server
from sora_mcp.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_list_models_over_both_protocol_eras(sandbox_settings: Settings, mode: str) -> None:
    server = build_server(sandbox_settings)
    async with Client(server, mode=mode) as client:
        result = await client.call_tool("list_models", {})
    assert not result.is_error
    assert result.structured_content is not None
    models = {m["id"]: m for m in result.structured_content["models"]}
    assert models["sora-2"]["seconds"] == [4, 8, 12]
    assert models["sora-2-pro"]["seconds"] == [10, 15, 25]
    assert result.structured_content["backend"] == "sandbox"
