"""Tenant isolation through the real MCP client: two tenants on one server, for every video tool and the resource.

Another tenant's job must be indistinguishable from an id that does not exist: same error text, same code.

How the tenant reaches the server in-process: in the 2026-07-28 era the in-memory client awaits the server's
handler directly in the calling task, so `acting_for` must wrap each call; in the legacy era the server's
session runs in a task started when the client connects, so it must wrap `async with Client(...)`. `TenantClient`
does both, which is what a real HTTP request gets from the SDK's auth middleware (the context of the request).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPError
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult

from sora_mcp.sandbox import SandboxServer
from sora_mcp.server import build_server
from sora_mcp.tenancy import Tenant, acting_for
from tests.videos_support import SORA2_4S, error_of, provider_settings, structured, text_of

pytestmark = pytest.mark.anyio


class TenantClient:
    """One MCP client whose every request acts for `tenant`."""

    def __init__(self, client: Client, tenant: Tenant) -> None:
        self.client = client
        self.tenant = tenant

    async def call(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        with acting_for(self.tenant):
            return await self.client.call_tool(tool, arguments)

    async def resource_error(self, video_id: str) -> str:
        with acting_for(self.tenant), pytest.raises(MCPError) as caught:
            await self.client.read_resource(f"sora://videos/{video_id}")
        return str(caught.value)

    async def resource(self, video_id: str) -> str:
        with acting_for(self.tenant):
            result = await self.client.read_resource(f"sora://videos/{video_id}")
        return result.contents[0].text  # type: ignore[union-attr]


@asynccontextmanager
async def tenant_client(server: MCPServer[Any], tenant: Tenant, mode: str) -> AsyncIterator[TenantClient]:
    with acting_for(tenant):
        async with Client(server, mode=mode) as client:
            yield TenantClient(client, tenant)


def _same_as_unknown(theirs: dict[str, Any], unknown: dict[str, Any], their_id: str, unknown_id: str) -> None:
    assert theirs["code"] == unknown["code"] == "not_found"
    assert theirs["message"].replace(their_id, "<id>") == unknown["message"].replace(unknown_id, "<id>")
    assert {k: v for k, v in theirs.items() if k != "message"} == {k: v for k, v in unknown.items() if k != "message"}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_tenant_cannot_list_read_download_remix_extend_or_delete_anothers_jobs(
    mode: str, tmp_path: Path, provider_sandbox: SandboxServer
) -> None:
    server = build_server(provider_settings(tmp_path, provider_sandbox))
    async with (
        tenant_client(server, Tenant("alice"), mode) as alice,
        tenant_client(server, Tenant("bob"), mode) as bob,
    ):
        created = structured(
            await alice.call(
                "create_video",
                {"prompt": "a kite", "video": SORA2_4S, "wait_seconds": 20, "idempotency_key": "shared-key"},
            )
        )
        assert created["status"] == "completed", created
        video_id, job_id = created["video_id"], created["job_id"]
        video = Path(created["files"]["video"])
        assert video.parent == tmp_path / "out" / "alice"  # a non-local tenant's files live in its folder

        listed = structured(await bob.call("list_videos", {}))
        assert listed["jobs"] == [] and listed["spent_today_usd"] == 0
        assert [j["video_id"] for j in structured(await alice.call("list_videos", {}))["jobs"]] == [video_id]

        unknown_video, unknown_job = "video_" + "0" * len(video_id[6:]), "0" * len(job_id)
        for tool, extra in (
            ("get_video_status", {"wait_seconds": 0}),
            ("download_video", {}),
            ("download_video", {"variant": "thumbnail"}),
            ("remix_video", {"prompt": "at night"}),
            ("extend_video", {"prompt": "then it lands", "seconds": 4}),
            ("delete_video", {}),
        ):
            for theirs, unknown in ((video_id, unknown_video), (job_id, unknown_job)):
                mine = error_of(await bob.call(tool, {"video_id": theirs, **extra}))
                nobody = error_of(await bob.call(tool, {"video_id": unknown, **extra}))
                _same_as_unknown(mine, nobody, theirs, unknown)
        for theirs, unknown in ((video_id, unknown_video), (job_id, unknown_job)):
            shown = await bob.resource_error(theirs)
            assert shown.replace(theirs, "<id>") == (await bob.resource_error(unknown)).replace(unknown, "<id>")

        # the same idempotency key (even with a different request) is bob's own: a new job, no conflict
        reused = await bob.call(
            "create_video", {"prompt": "a boat", "video": SORA2_4S, "wait_seconds": 0, "idempotency_key": "shared-key"}
        )
        assert not reused.is_error, text_of(reused)
        same_request = await bob.call(
            "create_video", {"prompt": "a kite", "video": SORA2_4S, "wait_seconds": 0, "idempotency_key": "shared-key"}
        )
        conflict = error_of(same_request)  # bob's own key now names bob's boat: a conflict for bob, about bob
        assert conflict["code"] == "idempotency_key_reused" and job_id not in conflict["message"]
        twin = await bob.call("create_video", {"prompt": "a kite", "video": SORA2_4S, "wait_seconds": 0})
        assert structured(twin)["job_id"] != job_id and not structured(twin)["reused"]  # no duplicate across tenants

        # alice's job is untouched by everything bob tried
        still = structured(await alice.call("get_video_status", {"video_id": video_id, "wait_seconds": 0}))
        assert still["status"] == "completed" and Path(still["files"]["video"]) == video
        assert '"status": "completed"' in await alice.resource(video_id)
        again = await alice.call(
            "create_video", {"prompt": "a kite", "video": SORA2_4S, "wait_seconds": 0, "idempotency_key": "shared-key"}
        )
        assert structured(again)["job_id"] == job_id and structured(again)["reused"]
    assert len(provider_sandbox.state.job_ids) == 3  # alice's kite, bob's boat and bob's kite


async def test_a_tenants_own_daily_budget_applies_to_it_alone(tmp_path: Path, provider_sandbox: SandboxServer) -> None:
    server = build_server(provider_settings(tmp_path, provider_sandbox, SORA_MCP_DAILY_BUDGET_USD="10"))
    async with (
        tenant_client(server, Tenant("small", daily_budget_usd=0.5), "auto") as small,
        tenant_client(server, Tenant("default"), "auto") as default,
    ):
        first = await small.call("create_video", {"prompt": "one", "video": SORA2_4S, "wait_seconds": 0})
        assert not first.is_error, text_of(first)
        refused = error_of(await small.call("create_video", {"prompt": "two", "video": SORA2_4S, "wait_seconds": 0}))
        assert refused["code"] == "budget_exceeded" and "$0.50" in refused["message"]
        assert "the daily budget your access token grants" in refused["message"]
        assert "SORA_MCP_DAILY_BUDGET_USD" not in refused["message"] + refused["fix"]
        for n in range(3):  # the server's $10 for everyone else, whatever "small" spent
            made = await default.call("create_video", {"prompt": f"d{n}", "video": SORA2_4S, "wait_seconds": 0})
            assert not made.is_error, text_of(made)
        assert structured(await small.call("list_videos", {}))["daily_budget_usd"] == 0.5
        assert structured(await default.call("list_videos", {}))["daily_budget_usd"] == 10
