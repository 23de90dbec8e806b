"""Tenants end to end over HTTP: the bearer token chooses the tenant, and the tenant scopes jobs, files and budget.

`tests/test_tenants.py` walks every tool and the resource in-process; this proves the same holds when the tenant
arrives the way it does in production: a token from the token file, through the SDK's auth middleware.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import MCPError

from sora_mcp.http.tokens import mint
from sora_mcp.sandbox import SandboxServer
from tests.http_support import ERAS, http_server, mcp_client
from tests.videos_support import CANARY_KEY, SORA2_4S, error_of, structured, text_of

pytestmark = pytest.mark.anyio


def _env(tmp_path: Path, sandbox: SandboxServer, *lines: str) -> dict[str, str]:
    tokens = tmp_path / "tokens"
    tokens.write_text("".join(line + "\n" for line in lines))
    return {
        "OPENAI_API_KEY": CANARY_KEY,
        "OPENAI_BASE_URL": sandbox.base_url,
        "SORA_MCP_PROFILE": "apiyi",
        "SORA_MCP_TOKEN_FILE": str(tokens),
        "SORA_MCP_DAILY_BUDGET_USD": "10",
    }


def _same_as_unknown(theirs: dict[str, Any], unknown: dict[str, Any], their_id: str, unknown_id: str) -> None:
    assert theirs["code"] == unknown["code"] == "not_found"
    assert theirs["message"].replace(their_id, "<id>") == unknown["message"].replace(unknown_id, "<id>")


@pytest.mark.parametrize("mode", ERAS)
async def test_two_tokens_are_two_tenants(mode: str, tmp_path: Path, provider_sandbox: SandboxServer) -> None:
    alice_token, alice = mint("alice", None)
    bob_token, bob = mint("bob", 0.4)
    with http_server(tmp_path, _env(tmp_path, provider_sandbox, alice.line(), bob.line())) as running:
        async with (
            mcp_client(running.mcp_url, mode, alice_token) as as_alice,
            mcp_client(running.mcp_url, mode, bob_token) as as_bob,
        ):
            created = await as_alice.call_tool(
                "create_video", {"prompt": "a kite", "video": SORA2_4S, "wait_seconds": 30}
            )
            assert not created.is_error, text_of(created)
            job = structured(created)
            assert job["status"] == "completed", job
            video_id = job["video_id"]
            link = job["files"]["video"]
            assert link.startswith(running.url + "/downloads/")

            listed = structured(await as_bob.call_tool("list_videos", {}))
            assert listed["jobs"] == [] and listed["spent_today_usd"] == 0
            unknown = "video_" + "0" * len(video_id[6:])
            for tool, extra in (
                ("get_video_status", {"wait_seconds": 0}),
                ("download_video", {}),
                ("remix_video", {"prompt": "at night"}),
                ("delete_video", {}),
            ):
                theirs = error_of(await as_bob.call_tool(tool, {"video_id": video_id, **extra}))
                nobody = error_of(await as_bob.call_tool(tool, {"video_id": unknown, **extra}))
                _same_as_unknown(theirs, nobody, video_id, unknown)
            with pytest.raises(MCPError) as theirs_read:
                await as_bob.read_resource(f"sora://videos/{video_id}")
            with pytest.raises(MCPError) as unknown_read:
                await as_bob.read_resource(f"sora://videos/{unknown}")
            assert str(theirs_read.value).replace(video_id, "<id>") == str(unknown_read.value).replace(unknown, "<id>")

            # bob's token carries a $0.40 budget: one 4 s job, then a refusal that names his own limit
            first = await as_bob.call_tool("create_video", {"prompt": "a boat", "video": SORA2_4S, "wait_seconds": 0})
            assert not first.is_error, text_of(first)
            refused = error_of(
                await as_bob.call_tool("create_video", {"prompt": "a ship", "video": SORA2_4S, "wait_seconds": 0})
            )
            assert refused["code"] == "budget_exceeded" and "$0.40" in refused["message"]
            # alice's budget is the server's, untouched by bob's spending
            assert structured(await as_alice.call_tool("list_videos", {}))["spent_today_usd"] == pytest.approx(0.4)
            assert [j["video_id"] for j in structured(await as_alice.call_tool("list_videos", {}))["jobs"]] == [
                video_id
            ]

        # alice's signed link serves her video without a token; the bytes are an MP4
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.get(link)
        assert answer.status_code == 200 and answer.content[4:8] == b"ftyp"
    assert len(provider_sandbox.state.job_ids) == 2  # alice's kite and bob's boat; the refused ship never left
