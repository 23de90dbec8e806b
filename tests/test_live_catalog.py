"""Live catalogs (issue 10, item 4): the openrouter profile's catalog read from the provider's model listing.

The listing server is the OpenRouter-dialect sandbox on 127.0.0.1, behind the fault proxy for the faults and for a
changed catalog (served in the sandbox's own listing format, `sandbox.openrouter.listing`); the client is the
real MCP client, in-process, in both protocol eras. Nothing is mocked: each test watches what the server serves,
what it logs, what it caches and what the proxy saw.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.session import IncomingMessage
from mcp.types import ToolListChangedNotification

from sora_mcp.catalog import Catalog, ModelSpec, load_builtin
from sora_mcp.live_catalog import MAX_LISTING_BYTES, cache_path
from sora_mcp.runtime import Runtime
from sora_mcp.sandbox import SandboxConfig, SandboxServer
from sora_mcp.sandbox.openrouter import listing
from sora_mcp.server import build_server
from sora_mcp.settings import Settings, SettingsError
from tests.fault_proxy import Fault, FaultProxy
from tests.videos_support import CANARY_KEY, error_of, structured, text_of

pytestmark = pytest.mark.anyio

MODELS = r"/videos/models"
LITE = "google/veo-3.1-lite"
LITE_VIDEO = {"model": LITE, "seconds": "8", "size": "1280x720"}


@pytest.fixture
def snapshot() -> Catalog:
    return load_builtin("openrouter")


@pytest.fixture
def provider(tmp_path: Path, snapshot: Catalog) -> Iterator[tuple[SandboxServer, FaultProxy]]:
    config = SandboxConfig(catalog=snapshot, api_key=CANARY_KEY, time_scale=0.05, storage_dir=tmp_path / "provider")
    with SandboxServer(config) as server, FaultProxy(server.base_url) as proxy:
        yield server, proxy


def _settings(tmp_path: Path, base_url: str, **env: str) -> Settings:
    return Settings.resolve(
        env={
            "OPENROUTER_API_KEY": CANARY_KEY,
            "OPENAI_BASE_URL": base_url,
            "SORA_MCP_PROFILE": "openrouter",
            "SORA_MCP_HOME": str(tmp_path / "data"),
            "SORA_MCP_OUTPUT_DIR": str(tmp_path / "out"),
            "SORA_MCP_ALLOWED_DIRS": str(tmp_path),
            **env,
        },
        user_home=tmp_path,
    )


def _without(catalog: Catalog, model_id: str) -> Catalog:
    return catalog.model_copy(update={"models": tuple(m for m in catalog.models if m.id != model_id)})


def _changed(catalog: Catalog) -> Catalog:
    """The snapshot with veo-3.1-lite gone and wan-2.6 down to 5 s only."""

    def edit(model: ModelSpec) -> ModelSpec:
        if model.id == "alibaba/wan-2.6":
            return model.model_copy(update={"seconds": (5,), "default_seconds": 5})
        return model

    return _without(catalog, LITE).model_copy(update={"models": tuple(edit(m) for m in _without(catalog, LITE))})


class Notifications:
    """A message handler counting `notifications/tools/list_changed` (handshake era)."""

    def __init__(self) -> None:
        self.count = 0
        self._event = anyio.Event()

    async def __call__(self, message: IncomingMessage) -> None:
        if isinstance(message, ToolListChangedNotification):
            self.count += 1
            self._event.set()

    async def wait(self, seconds: float = 15.0) -> None:
        with anyio.fail_after(seconds):
            await self._event.wait()
        self._event = anyio.Event()


def _video_models(tools: Any) -> list[str]:
    (create,) = [t for t in tools.tools if t.name == "create_video"]
    models: list[str] = create.input_schema["properties"]["video"]["properties"]["model"]["enum"]
    return models


async def _until(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    with anyio.fail_after(seconds):
        while not condition():
            await anyio.sleep(0.02)


def _listing_requests(proxy: FaultProxy) -> int:
    return sum(1 for seen in proxy.requests if seen.path == MODELS)


# -- start-up, refresh, swap, notify -------------------------------------------------------------------------


async def test_initialize_does_not_wait_and_a_changed_listing_swaps_the_tools(
    tmp_path: Path, provider: tuple[SandboxServer, FaultProxy], snapshot: Catalog
) -> None:
    sandbox, proxy = provider
    proxy.add(Fault(method="GET", path=MODELS, delay=2.0, json=listing(_changed(snapshot))))
    settings = _settings(tmp_path, proxy.base_url)
    runtime = Runtime.create(settings)
    notes = Notifications()
    started = time.perf_counter()
    async with Client(build_server(settings, runtime), mode="legacy", message_handler=notes) as client:
        connected = time.perf_counter() - started
        assert client.session.server_capabilities is not None
        tools_capability = client.session.server_capabilities.tools
        assert tools_capability is not None and tools_capability.list_changed is True
        before = await client.list_tools()
        served_before = structured(await client.call_tool("list_models", {}))
        await notes.wait()
        after = await client.list_tools()
        served_after = structured(await client.call_tool("list_models", {}))
        refused = await client.call_tool("create_video", {"prompt": "a fox", "video": LITE_VIDEO, "wait_seconds": 0})
        wan = await client.call_tool("validate_params", {"model": "alibaba/wan-2.6", "seconds": 10})
    assert connected < 2.0, connected  # the listing answer takes 2 s; initialize did not wait for it
    assert LITE in _video_models(before) and LITE not in _video_models(after)
    assert "shipped with sora-mcp" in served_before["catalog_source"] and served_before["age_hours"] > 24
    assert "read from the provider" in served_after["catalog_source"] and served_after["age_hours"] < 0.1
    assert [m["id"] for m in served_after["models"]] == [m.id for m in _changed(snapshot).models]
    assert notes.count == 1
    error = error_of(refused)  # the new schema refuses a model that is no longer listed, before any request
    assert LITE in error["message"] and "google/veo-3.1" in json.dumps(error), error
    assert proxy.count("create") == 0 and not sandbox.state.jobs
    assert str(structured(wan)["request"]["seconds"]) == "5"  # validate_params answers from the new catalog too
    cached = json.loads(cache_path(settings).read_text(encoding="utf-8"))
    assert cached["url"].endswith("/api/v1/videos/models") and cached["fetched_at"].endswith("Z")
    assert LITE not in {m["id"] for m in cached["data"]}


async def test_a_2026_client_hears_the_change_on_its_listen_stream(
    tmp_path: Path, provider: tuple[SandboxServer, FaultProxy], snapshot: Catalog
) -> None:
    _sandbox, proxy = provider
    proxy.add(Fault(method="GET", path=MODELS, delay=0.5, json=listing(_changed(snapshot))))
    settings = _settings(tmp_path, proxy.base_url)
    async with Client(build_server(settings)) as client:
        assert client.protocol_version == "2026-07-28"
        before = await client.list_tools()
        async with client.listen(tools_list_changed=True) as subscription:
            with anyio.fail_after(15):
                event = await subscription.__anext__()
        after = await client.list_tools(cache_mode="bypass")
    assert type(event).__name__ == "ToolsListChanged"
    assert LITE in _video_models(before) and LITE not in _video_models(after)


async def test_a_fresh_cache_is_used_at_once_without_reading_the_listing_then_refreshed_when_old(
    tmp_path: Path, provider: tuple[SandboxServer, FaultProxy], snapshot: Catalog
) -> None:
    _sandbox, proxy = provider
    proxy.add(Fault(method="GET", path=MODELS, json=listing(_changed(snapshot)), times=1))
    settings = _settings(tmp_path, proxy.base_url)
    first = Runtime.create(settings)
    async with Client(build_server(settings, first), mode="legacy"):
        await _until(lambda: first.live is not None and first.live.status.origin == "live")
    assert _listing_requests(proxy) == 1

    second = Runtime.create(settings)  # a restart: the cached copy, no request
    assert second.live is not None and second.live.status.origin == "cache"
    assert [m.id for m in second.catalog.models] == [m.id for m in _changed(snapshot).models]
    async with Client(build_server(settings, second), mode="legacy") as client:
        served = structured(await client.call_tool("list_models", {}))
        await anyio.sleep(0.5)
    assert _listing_requests(proxy) == 1
    assert "cached copy" in served["catalog_source"] and served["fetched_at"] is not None

    # 0.0003 h is about a second: the cached copy goes stale while serving and is read again (the plain listing)
    stale = _settings(tmp_path, proxy.base_url, SORA_MCP_CATALOG_MAX_AGE_HOURS="0.0003")
    notes = Notifications()
    third = Runtime.create(stale)
    async with Client(build_server(stale, third), mode="legacy", message_handler=notes) as client:
        await notes.wait()
        tools = await client.list_tools()
    assert _listing_requests(proxy) >= 2 and LITE in _video_models(tools)


async def test_a_listing_that_changes_between_reads_is_followed_each_time(
    tmp_path: Path, provider: tuple[SandboxServer, FaultProxy], snapshot: Catalog
) -> None:
    _sandbox, proxy = provider
    proxy.add(Fault(method="GET", path=MODELS, json=listing(_changed(snapshot)), nth=1))
    proxy.add(Fault(method="GET", path=MODELS, json=listing(_without(snapshot, "alibaba/wan-2.6")), nth=2))
    settings = _settings(tmp_path, proxy.base_url, SORA_MCP_CATALOG_MAX_AGE_HOURS="0.0002")
    notes = Notifications()
    async with Client(build_server(settings), mode="legacy", message_handler=notes) as client:
        await notes.wait()
        first = _video_models(await client.list_tools())
        await notes.wait()
        second = _video_models(await client.list_tools())
        await notes.wait()  # the third read is the sandbox's own listing again
        third = _video_models(await client.list_tools())
    assert LITE not in first and "alibaba/wan-2.6" in first
    assert LITE in second and "alibaba/wan-2.6" not in second
    assert LITE in third and "alibaba/wan-2.6" in third


async def test_the_same_listing_again_sends_no_notification(
    tmp_path: Path, provider: tuple[SandboxServer, FaultProxy]
) -> None:
    _sandbox, proxy = provider
    settings = _settings(tmp_path, proxy.base_url, SORA_MCP_CATALOG_MAX_AGE_HOURS="0.0002")
    runtime = Runtime.create(settings)
    notes = Notifications()
    async with Client(build_server(settings, runtime), mode="legacy", message_handler=notes) as client:
        await _until(lambda: _listing_requests(proxy) >= 3)  # the sandbox lists exactly the shipped snapshot
        await anyio.sleep(0.2)
        served = structured(await client.call_tool("list_models", {}))
    assert notes.count == 0, "a listing with the same schemas must not notify"
    assert runtime.live is not None and runtime.live.status.origin == "live"
    assert "read from the provider" in served["catalog_source"]


# -- bad answers: a clear logged fallback, the last good catalog kept ----------------------------------------


BAD_ANSWERS: dict[str, tuple[Fault, str]] = {
    "500": (Fault(method="GET", path=MODELS, status=500, json={"error": {"code": 500, "message": "boom"}}), "HTTP 500"),
    "not JSON": (Fault(method="GET", path=MODELS, body="{not json", content_type="application/json"), "not JSON"),
    "HTML": (Fault(method="GET", path=MODELS, body="<html>Bad gateway</html>", content_type="text/html"), "not JSON"),
    "wrong shape": (Fault(method="GET", path=MODELS, json={"models": []}), "not a model listing"),
    "no usable model": (Fault(method="GET", path=MODELS, json={"data": [{"id": "x/y"}, 3]}), "no usable model"),
    "huge": (Fault(method="GET", path=MODELS, body=b" " * (MAX_LISTING_BYTES + 1)), "over"),
    "slow": (Fault(method="GET", path=MODELS, delay=3.0), "no complete answer within 0.5 s"),
    "too many models": (
        Fault(method="GET", path=MODELS, json={"data": [{"id": f"m/{i}"} for i in range(1001)]}),
        "more than 1000",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ANSWERS))
async def test_a_bad_listing_is_logged_and_the_last_good_catalog_kept(
    case: str,
    tmp_path: Path,
    provider: tuple[SandboxServer, FaultProxy],
    snapshot: Catalog,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _sandbox, proxy = provider
    settings = _settings(tmp_path, proxy.base_url)
    good = Runtime.create(settings)  # a good read first, so there is a cache to fall back to
    proxy.add(Fault(method="GET", path=MODELS, json=listing(_changed(snapshot)), times=1))
    async with Client(build_server(settings, good), mode="legacy"):
        await _until(lambda: good.live is not None and good.live.status.origin == "live")
    cached = cache_path(settings).read_bytes()

    fault, reason = BAD_ANSWERS[case]
    proxy.clear()
    proxy.add(fault)
    stale = _settings(tmp_path, proxy.base_url, SORA_MCP_CATALOG_MAX_AGE_HOURS="0.00001")
    runtime = Runtime.create(stale)
    assert runtime.live is not None
    runtime.live.timeout_seconds = 0.5
    notes = Notifications()
    caplog.set_level(logging.WARNING, logger="sora_mcp.live_catalog")
    async with Client(build_server(stale, runtime), mode="legacy", message_handler=notes) as client:
        await _until(lambda: runtime.live is not None and runtime.live.status.last_error is not None)
        served = structured(await client.call_tool("list_models", {}))
        tools = await client.list_tools()
        check = structured(await client.call_tool("validate_params", {"model": "google/veo-3.1", "seconds": 8}))
    assert notes.count == 0
    assert LITE not in _video_models(tools) and "google/veo-3.1" in _video_models(tools)  # the cached catalog
    assert check["valid"] is True
    assert "cached copy" in served["catalog_source"] and reason in served["catalog_source"], served
    logged = [r.getMessage() for r in caplog.records if r.name == "sora_mcp.live_catalog"]
    assert any("unusable" in m and reason in m and "keeping the cache catalog" in m for m in logged), logged
    assert cache_path(settings).read_bytes() == cached  # a bad answer never replaces the cache


async def test_an_unreachable_provider_falls_back_to_the_snapshot(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with FaultProxy("http://127.0.0.1:9/api/v1") as dead:  # the proxy answers; its upstream refuses connections
        port = dead.port
    settings = _settings(tmp_path, f"http://127.0.0.1:{port}/api/v1")  # nothing listens there any more
    runtime = Runtime.create(settings)
    caplog.set_level(logging.WARNING, logger="sora_mcp.live_catalog")
    async with Client(build_server(settings, runtime), mode="legacy") as client:
        await _until(lambda: runtime.live is not None and runtime.live.status.last_error is not None)
        served = structured(await client.call_tool("list_models", {}))
    assert runtime.live is not None and "unreachable" in (runtime.live.status.last_error or "")
    assert "shipped with sora-mcp" in served["catalog_source"] and "unreachable" in served["catalog_source"]
    assert len(served["models"]) == len(load_builtin("openrouter").models)
    assert any("keeping the snapshot catalog" in r.getMessage() for r in caplog.records)
    assert not cache_path(settings).exists()


async def test_a_corrupt_cache_falls_back_to_the_snapshot(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = _settings(tmp_path, "http://127.0.0.1:9/api/v1")
    cache_path(settings).parent.mkdir(parents=True)
    cache_path(settings).write_text('{"format": 1, "url": "elsewhere", "data": []', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="sora_mcp.live_catalog"):
        runtime = Runtime.create(settings)
    assert runtime.live is not None and runtime.live.status.origin == "snapshot"
    assert any("cache" in r.getMessage() and "unusable" in r.getMessage() for r in caplog.records)
    other_host = json.dumps({"format": 1, "url": "https://elsewhere.example/api/v1/videos/models", "data": []})
    cache_path(settings).write_text(other_host, encoding="utf-8")
    assert Runtime.create(settings).live.status.origin == "snapshot"  # type: ignore[union-attr]


async def test_one_bad_model_is_skipped_and_the_others_kept(
    tmp_path: Path, provider: tuple[SandboxServer, FaultProxy], snapshot: Catalog
) -> None:
    _sandbox, proxy = provider
    body = listing(snapshot)
    for entry in body["data"]:
        if entry["id"] == LITE:
            entry["supported_durations"] = ["eight"]
    proxy.add(Fault(method="GET", path=MODELS, json=body))
    settings = _settings(tmp_path, proxy.base_url)
    notes = Notifications()
    async with Client(build_server(settings), mode="legacy", message_handler=notes) as client:
        await notes.wait()
        served = structured(await client.call_tool("list_models", {}))
        tools = await client.list_tools()
    models = _video_models(tools)
    assert LITE not in models and len(served["models"]) == len(snapshot.models) - 1
    assert any(LITE in w and "supported_durations" in w for w in served["warnings"]), served["warnings"]


# -- the key: to the base URL only, never in logs or the cache -----------------------------------------------


async def test_the_key_goes_to_the_base_url_only_and_never_into_logs_or_the_cache(
    tmp_path: Path, provider: tuple[SandboxServer, FaultProxy], snapshot: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    _sandbox, proxy = provider
    echoed = listing(snapshot)
    for entry in echoed["data"]:
        entry["description"] = "you sent {authorization}"  # a provider echoing the request's key
    proxy.add(Fault(method="GET", path=MODELS, json=echoed, times=1))
    caplog.set_level(logging.DEBUG)
    settings = _settings(tmp_path, proxy.base_url)
    runtime = Runtime.create(settings)
    async with Client(build_server(settings, runtime), mode="legacy") as client:
        await _until(lambda: runtime.live is not None and runtime.live.status.origin == "live")
        served = text_of(await client.call_tool("list_models", {}))
    cached = cache_path(settings).read_text(encoding="utf-8")
    assert "Bearer [redacted]" in cached  # the key was sent (and echoed) ...
    assert CANARY_KEY not in cached and CANARY_KEY not in served  # ... and is stored and shown without it
    assert all(CANARY_KEY not in r.getMessage() for r in caplog.records)

    with FaultProxy(proxy.base_url) as elsewhere:  # a redirect to another server is not followed
        proxy.clear()
        proxy.add(Fault(method="GET", path=MODELS, forward=False, status=302, headers={"location": elsewhere.base_url}))
        stale = _settings(tmp_path, proxy.base_url, SORA_MCP_CATALOG_MAX_AGE_HOURS="0.00001")
        again = Runtime.create(stale)
        async with Client(build_server(stale, again), mode="legacy"):
            await _until(lambda: again.live is not None and again.live.status.last_error is not None)
        assert elsewhere.count() == 0
    assert again.live is not None and "redirect" in (again.live.status.last_error or "")
    assert all(CANARY_KEY not in r.getMessage() for r in caplog.records)


# -- everything else exactly as before -----------------------------------------------------------------------


async def test_other_profiles_and_the_sandbox_never_read_a_listing(
    tmp_path: Path, provider: tuple[SandboxServer, FaultProxy]
) -> None:
    _sandbox, proxy = provider
    for profile in ("openai", "apiyi", "apiyi-veo"):
        settings = _settings(tmp_path, proxy.base_url, SORA_MCP_PROFILE=profile)
        runtime = Runtime.create(settings)
        assert runtime.live is None
        async with Client(build_server(settings, runtime), mode="legacy") as client:
            capabilities = client.session.server_capabilities
            assert capabilities is not None and capabilities.tools is not None
            assert not capabilities.tools.list_changed  # as before: nothing ever changes
    sandbox_backend = Settings.resolve(
        env={"SORA_MCP_PROFILE": "openrouter", "SORA_MCP_HOME": str(tmp_path / "d")}, user_home=tmp_path
    )
    off = _settings(tmp_path, proxy.base_url, SORA_MCP_CATALOG_MAX_AGE_HOURS="0")
    own_file = _settings(tmp_path, proxy.base_url, SORA_MCP_CATALOG=str(tmp_path / "mine.json"))
    (tmp_path / "mine.json").write_text(json.dumps(listing(load_builtin("openrouter"))), encoding="utf-8")
    assert Runtime.create(sandbox_backend).live is None and Runtime.create(own_file).live is None
    assert Runtime.create(off).live is None
    await anyio.sleep(0.3)
    assert proxy.count() == 0


def test_the_max_age_setting() -> None:
    base = {"OPENROUTER_API_KEY": CANARY_KEY}
    assert Settings.resolve(env=base).catalog_max_age_hours == 24
    assert Settings.resolve(env={**base, "SORA_MCP_CATALOG_MAX_AGE_HOURS": "1.5"}).catalog_max_age_hours == 1.5
    assert Settings.resolve(flags={"catalog_max_age_hours": "0"}, env=base).catalog_max_age_hours == 0
    for bad in ("-1", "soon", "inf", "100000"):
        with pytest.raises(SettingsError, match="SORA_MCP_CATALOG_MAX_AGE_HOURS"):
            Settings.resolve(env={**base, "SORA_MCP_CATALOG_MAX_AGE_HOURS": bad})
