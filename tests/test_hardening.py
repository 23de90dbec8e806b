"""The service against a hostile or broken provider (the fault proxy in front of a real sandbox), broken disks
and retrying clients: nothing is billed twice, nothing escapes the output folder, nothing stalls, nothing leaks.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from sora_mcp.sandbox import SandboxServer
from sora_mcp.server import build_server
from sora_mcp.settings import Settings
from sora_mcp.videos import service as video_service
from tests.fault_proxy import Fault, FaultProxy
from tests.videos_support import CANARY_KEY, SORA2_4S, error_of, provider_settings, structured, text_of

pytestmark = pytest.mark.anyio

CREATE = {"prompt": "a red fox in snow", "video": SORA2_4S, "wait_seconds": 0}


@pytest.fixture
def proxy(provider_sandbox: SandboxServer) -> Iterator[FaultProxy]:
    with FaultProxy(provider_sandbox.base_url) as running:
        yield running


@pytest.fixture
def short_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scale the create and list bounds down so a 'slow provider' takes a second, not a minute."""
    monkeypatch.setattr(video_service, "CREATE_TIMEOUT_SECONDS", 0.6)
    monkeypatch.setattr(video_service, "LIST_TIMEOUT_SECONDS", 0.6)


def _settings(tmp_path: Path, sandbox: SandboxServer, proxy: FaultProxy, **env: str) -> Settings:
    return provider_settings(tmp_path, sandbox, OPENAI_BASE_URL=proxy.base_url, **env)


CREATE_FAULTS: dict[str, Callable[[], Fault]] = {
    "drop after accept": lambda: Fault(route="create", drop=True, times=1),
    "5xx after create": lambda: Fault(route="create", status=500, times=1),
    "slow answer": lambda: Fault(route="create", delay=1.5, times=1),
}
LIST_FAULTS: dict[str, Callable[[], Fault] | None] = {
    "list ok": None,
    "list 5xx": lambda: Fault(route="list", status=503, forward=False, times=8),
    "list slow": lambda: Fault(route="list", delay=2.0, times=2),
}


@pytest.mark.slow
@pytest.mark.usefixtures("short_bounds")
@pytest.mark.parametrize("list_fault", list(LIST_FAULTS))
@pytest.mark.parametrize("create_fault", list(CREATE_FAULTS))
async def test_a_lost_create_answer_is_never_paid_twice(
    create_fault: str, list_fault: str, tmp_path: Path, provider_sandbox: SandboxServer, proxy: FaultProxy
) -> None:
    for make in (CREATE_FAULTS[create_fault], LIST_FAULTS[list_fault]):
        if make is not None:
            proxy.add(make())
    server = build_server(_settings(tmp_path, provider_sandbox, proxy))
    async with Client(server) as client:
        with anyio.fail_after(30):
            first = await client.call_tool("create_video", CREATE)
            retry = await client.call_tool("create_video", CREATE)  # the agent retries, as agents do
        first_job = error_of(first)["job"] if first.is_error else structured(first)
        retry_job = error_of(retry)["job"] if retry.is_error else structured(retry)
        assert retry_job["job_id"] == first_job["job_id"]
        if first.is_error:
            error = error_of(first)
            assert error["code"] == "create_unconfirmed" and error["job"]["status"] == "unknown"
            assert "NOT sent again" in text_of(first) and "get_video_status" in error["fix"]
        await anyio.sleep(2.5)  # the slow create reaches the provider; the list faults run out
        proxy.clear()
        with anyio.fail_after(30):
            status = await client.call_tool("get_video_status", {"video_id": first_job["job_id"], "wait_seconds": 20})
        listed = structured(await client.call_tool("list_videos", {}))
    assert proxy.forwarded("create") == 1
    assert len(provider_sandbox.state.jobs) == 1
    job = structured(status)
    assert job["video_id"] == provider_sandbox.state.jobs[0].id and job["status"] == "completed"
    assert [j["job_id"] for j in listed["jobs"]] == [first_job["job_id"]]
    assert listed["spent_today_usd"] == pytest.approx(0.4)


async def test_identical_requests_return_one_job_unless_a_new_key_asks_for_another(
    tmp_path: Path, provider_sandbox: SandboxServer
) -> None:
    server = build_server(provider_settings(tmp_path, provider_sandbox))
    async with Client(server, mode="legacy") as client:
        first = structured(await client.call_tool("create_video", CREATE))
        again = await client.call_tool("create_video", CREATE)
        placeholders = await client.call_tool(
            "create_video", {**CREATE, "reference_image": "", "idempotency_key": "", "fit": "cover"}
        )
        take_two = structured(await client.call_tool("create_video", {**CREATE, "idempotency_key": "take-2"}))
        same_key = structured(await client.call_tool("create_video", {**CREATE, "idempotency_key": "take-2"}))
        misused = await client.call_tool(
            "create_video", {**CREATE, "prompt": "something else", "idempotency_key": "take-2"}
        )
    assert structured(again)["job_id"] == first["job_id"] and structured(again)["reused"] is True
    assert "instead of paying again" in text_of(again)
    assert structured(placeholders)["job_id"] == first["job_id"]  # "" means "not given", as omitting it
    assert take_two["job_id"] != first["job_id"] and same_key["job_id"] == take_two["job_id"]
    assert error_of(misused)["code"] == "idempotency_key_reused"
    assert len(provider_sandbox.state.jobs) == 2


async def test_failed_jobs_release_their_reservation(tmp_path: Path, provider_sandbox: SandboxServer) -> None:
    server = build_server(provider_settings(tmp_path, provider_sandbox, SORA_MCP_DAILY_BUDGET_USD="0.5"))
    async with Client(server) as client:
        blocked = await client.call_tool(
            "create_video", {"prompt": "a face [blocked]", "video": SORA2_4S, "wait_seconds": 20}
        )
        assert error_of(blocked)["job"]["status"] == "failed"
        after = await client.call_tool("create_video", CREATE)  # $0.40 fits again: the failure cost nothing
        listed = structured(await client.call_tool("list_videos", {}))
    assert not after.is_error, text_of(after)
    assert listed["spent_today_usd"] == pytest.approx(0.4)


async def test_sandbox_spend_has_its_own_cap(sandbox_settings: Settings, isolated_environment: Path) -> None:
    capped = Settings.resolve(
        env={
            "SORA_MCP_HOME": str(isolated_environment / "sora-home"),
            "SORA_MCP_OUTPUT_DIR": str(isolated_environment / "out"),
            "SORA_MCP_SANDBOX_DAILY_BUDGET_USD": "0",
            "SORA_MCP_DAILY_BUDGET_USD": "10",
        },
        user_home=isolated_environment,
    )
    async with Client(build_server(capped)) as client:
        refused = await client.call_tool("create_video", CREATE)
        listed = structured(await client.call_tool("list_videos", {}))
    error = error_of(refused)
    assert error["stage"] == "budget" and "SORA_MCP_SANDBOX_DAILY_BUDGET_USD" in error["fix"]
    assert listed["daily_budget_usd"] == 10 and listed["sandbox_daily_budget_usd"] == 0


@pytest.mark.parametrize("hostile", ["../../EVIL_rel", "/tmp/sora-evil/newdir/pwn", "a\x00b", "x" * 10240, "vidé/o"])
async def test_a_provider_id_is_never_a_path(
    hostile: str, tmp_path: Path, provider_sandbox: SandboxServer, proxy: FaultProxy
) -> None:
    proxy.add(Fault(route="create", job_id=hostile))
    server = build_server(_settings(tmp_path, provider_sandbox, proxy))
    before = set(tmp_path.parent.rglob("*"))
    async with Client(server) as client:
        result = await client.call_tool("create_video", CREATE)
    error = error_of(result)
    assert error["code"] == "unsafe_id" and "id" in error["message"]
    created = set(tmp_path.parent.rglob("*")) - before
    assert all(tmp_path in p.parents for p in created), created
    assert not any("EVIL" in p.name or "pwn" in p.name for p in created)
    assert not Path("/tmp/sora-evil").exists()


async def test_an_echoed_key_appears_nowhere(
    tmp_path: Path, provider_sandbox: SandboxServer, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echoes = [
        Fault(route="retrieve", echo_auth=frozenset({"body", "error", "header"})),
        Fault(
            route="create",
            nth=1,
            status=401,
            forward=False,
            json={"error": {"message": "Incorrect API key provided: {authorization}", "type": "authentication_error"}},
        ),
    ]
    server = build_server(_settings(tmp_path, provider_sandbox, proxy, SORA_MCP_LOG_LEVEL="DEBUG"))
    outputs: list[str] = []
    async with Client(server) as client:
        job = structured(await client.call_tool("create_video", CREATE))
        for fault in echoes:
            proxy.add(fault)
        for tool, args in (
            ("get_video_status", {"video_id": job["video_id"], "wait_seconds": 5}),
            ("create_video", {**CREATE, "prompt": "another"}),
            ("list_videos", {"refresh": True}),
        ):
            result = await client.call_tool(tool, args)
            outputs.append(json.dumps(result.model_dump(mode="json")))
        resource = await client.read_resource(f"sora://videos/{job['video_id']}")
        outputs.append(json.dumps(resource.model_dump(mode="json")))
    ledger = (tmp_path / "data" / "ledger.sqlite3").read_bytes()
    for wal in (tmp_path / "data").glob("ledger.sqlite3*"):
        ledger += wal.read_bytes()
    assert any("redacted" in o or "Incorrect API key" in o for o in outputs)
    for text in [*outputs, caplog.text, ledger.decode("latin-1")]:
        assert CANARY_KEY not in text


async def test_retry_after_infinity_and_a_stalled_retrieve_do_not_hold_the_call(
    tmp_path: Path, provider_sandbox: SandboxServer, proxy: FaultProxy
) -> None:
    server = build_server(_settings(tmp_path, provider_sandbox, proxy))
    async with Client(server) as client:
        job = structured(await client.call_tool("create_video", CREATE))
        for fault in (
            Fault(route="retrieve", status=429, forward=False, retry_after="inf"),
            Fault(route="retrieve", status=429, forward=False, retry_after="1e9"),
            Fault(route="retrieve", status=429, forward=False, retry_after="-5"),
            Fault(route="retrieve", status=429, forward=False, retry_after="garbage"),
            Fault(route="retrieve", delay=8),
        ):
            proxy.clear()
            proxy.add(fault)
            with anyio.fail_after(6):  # a hang detector for a 2 s wait, not a timing benchmark
                result = await client.call_tool("get_video_status", {"video_id": job["video_id"], "wait_seconds": 2})
            assert job["video_id"] in text_of(result)


async def test_a_corrupt_thumbnail_never_breaks_the_status(
    tmp_path: Path, provider_sandbox: SandboxServer, proxy: FaultProxy
) -> None:
    proxy.add(Fault(route="content", nth=2, random_bytes=300_000, content_type="image/webp"))
    server = build_server(_settings(tmp_path, provider_sandbox, proxy))
    async with Client(server) as client:
        job = structured(await client.call_tool("create_video", CREATE))
        done = await client.call_tool("get_video_status", {"video_id": job["video_id"], "wait_seconds": 20})
        again = await client.call_tool("get_video_status", {"video_id": job["video_id"], "wait_seconds": 0})
    view = structured(done)
    assert view["status"] == "completed" and Path(view["files"]["video"]).stat().st_size > 1000
    assert view["files"].get("thumbnail") is None and "thumbnail is unusable" in text_of(done)
    assert not again.is_error


async def test_concurrent_status_calls_share_retrieves_and_downloads(
    tmp_path: Path, provider_sandbox: SandboxServer, proxy: FaultProxy
) -> None:
    server = build_server(_settings(tmp_path, provider_sandbox, proxy))
    async with Client(server) as client:
        job = structured(await client.call_tool("create_video", CREATE))
        results: list[Any] = []

        async def status() -> None:
            results.append(
                await client.call_tool("get_video_status", {"video_id": job["video_id"], "wait_seconds": 10})
            )

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(status)
    assert all(structured(r)["status"] == "completed" for r in results)
    assert proxy.count("content") == 3  # video, thumbnail and spritesheet: once each
    assert proxy.count("retrieve") <= 12  # at most one per second, whatever the number of callers


async def test_a_locked_ledger_is_named_within_five_seconds(sandbox_settings: Settings) -> None:
    ledger = sandbox_settings.home / "ledger.sqlite3"
    async with Client(build_server(sandbox_settings)) as client:
        assert not (await client.call_tool("list_videos", {})).is_error  # creates the file
        holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(ledger)], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            with anyio.fail_after(12):
                result = await client.call_tool("create_video", CREATE)
        finally:
            holder.kill()
            holder.wait()
        after = await client.call_tool("list_videos", {})
    error = error_of(result)
    assert error["stage"] == "storage" and "busy (another sora-mcp process?)" in error["message"]
    assert not after.is_error


_HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(60)
"""


async def test_a_corrupt_ledger_is_named_and_kept(sandbox_settings: Settings) -> None:
    ledger = sandbox_settings.home / "ledger.sqlite3"
    ledger.parent.mkdir(parents=True)
    garbage = b"this is not a database" * 100
    ledger.write_bytes(garbage)
    async with Client(build_server(sandbox_settings)) as client:
        result = await client.call_tool("list_videos", {})
        alive = await client.call_tool("validate_params", {"model": "sora-2", "seconds": 10})
    error = error_of(result)
    assert str(ledger) in error["message"] and "move it aside" in error["message"]
    assert ledger.read_bytes() == garbage
    assert not alive.is_error


async def test_an_unusable_output_folder_keeps_the_job_and_says_why(
    tmp_path: Path, provider_sandbox: SandboxServer
) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("a file where the output folder should be")
    server = build_server(provider_settings(tmp_path, provider_sandbox))
    async with Client(server) as client:
        job = structured(await client.call_tool("create_video", CREATE))
        stuck = await client.call_tool("get_video_status", {"video_id": job["video_id"], "wait_seconds": 20})
        error = error_of(stuck)
        assert error["stage"] == "storage" and str(blocker) in error["message"]
        assert error["job"]["video_id"] == job["video_id"] and "The job is kept" in error["message"]
        blocker.unlink()
        done = structured(await client.call_tool("get_video_status", {"video_id": job["video_id"]}))
    assert Path(done["files"]["video"]).is_file()
    assert len(provider_sandbox.state.jobs) == 1


async def test_concurrent_deliberate_takes_each_get_their_own_job_when_an_answer_is_lost(
    tmp_path: Path, provider_sandbox: SandboxServer, proxy: FaultProxy
) -> None:
    """Two identical creates with their own keys, the first answer lost: whichever way reconciliation races, each
    call ends with its own provider job (or an honest 'unknown'), never someone else's and never a crash."""
    proxy.add(Fault(route="create", drop=True, nth=1))
    server = build_server(_settings(tmp_path, provider_sandbox, proxy))
    results: dict[str, Any] = {}
    async with Client(server) as client:

        async def take(key: str) -> None:
            results[key] = await client.call_tool("create_video", {**CREATE, "idempotency_key": key})

        async with anyio.create_task_group() as group:
            group.start_soon(take, "take-a")
            group.start_soon(take, "take-b")
        jobs = {}
        for key, result in results.items():
            job = error_of(result)["job"] if result.is_error else structured(result)
            assert "LedgerConflict" not in text_of(result) and "internal" not in text_of(result)
            with anyio.fail_after(30):
                done = await client.call_tool("get_video_status", {"video_id": job["job_id"], "wait_seconds": 20})
            jobs[key] = structured(done)["video_id"]
    assert proxy.forwarded("create") == 2 and len(provider_sandbox.state.jobs) == 2
    assert set(jobs.values()) == {j.id for j in provider_sandbox.state.jobs}


async def test_a_long_wait_aims_its_polls_at_the_estimated_end(tmp_path: Path) -> None:
    """With progress, a 20 s render costs a handful of retrieves: the provider's 2 s hint alone makes 11, the
    SDK's poll() twenty."""
    from sora_mcp.catalog import load_builtin
    from sora_mcp.sandbox import SandboxConfig

    config = SandboxConfig(
        catalog=load_builtin("apiyi"),
        api_key=CANARY_KEY,
        time_scale=1.0,
        job_seconds=20.0,
        storage_dir=tmp_path / "slow-provider",
    )
    with SandboxServer(config) as slow, FaultProxy(slow.base_url) as counting:
        server = build_server(_settings(tmp_path, slow, counting))
        async with Client(server) as client:
            job = structured(await client.call_tool("create_video", {**CREATE, "wait_seconds": 0}))
            with anyio.fail_after(40):
                done = await client.call_tool("get_video_status", {"video_id": job["video_id"], "wait_seconds": 30})
    assert structured(done)["status"] == "completed"
    assert counting.count("retrieve") <= 7, counting.count("retrieve")
