"""The official TypeScript SDK (`Client` + `StdioClientTransport`), the base of most hosts, on every path.

The SDK validates `structuredContent` against the tool's output schema also on `isError` results and throws
`MCP error -32602` on a mismatch, so the host never sees the error text: every error path here must arrive
as an `isError` result with its text, never as a thrown error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sora_mcp.catalog import load_builtin
from sora_mcp.sandbox import SandboxConfig, SandboxServer
from tests.interop import support
from tests.interop.checks import assert_success, assert_tool_error, show
from tests.interop.conftest import Recorder

pytestmark = pytest.mark.slow

CLIENT = "@modelcontextprotocol/sdk"
DRIVEN = "`Client` + `StdioClientTransport` (TypeScript)"
SORA2 = {"model": "sora-2", "seconds": "4", "size": "1280x720"}
UNKNOWN = "video_00000000000000000000unknown"
PROVIDER_KEY = "sk-interop-expiring-1f2e3d"
DONE = ["completed", "failed", "expired"]


def _retired_catalog(path: Path) -> Path:
    """The openai profile with sora-2-pro retired on every host (the built-in one retires on api.openai.com only)."""
    import importlib.resources

    data = json.loads(importlib.resources.files("sora_mcp.catalogs").joinpath("openai.json").read_text())
    data["profile"] = "interop-retired"
    for model in data["models"]:
        if model["id"] == "sora-2-pro":
            model["status"] = "retired"
            model["retirement"] = {"date": "2026-09-24", "hosts": []}
    path.write_text(json.dumps(data))
    return path


def _scenario(home: Path, sora_mcp: str, expiring: SandboxServer) -> dict[str, Any]:
    photo = support.write_png(home / "main" / "images" / "photo.png", 2016, 1512)
    outside = support.write_png(home / "elsewhere" / "photo.png", 640, 480)
    main_steps: list[dict[str, Any]] = [
        {"id": "list_models", "tool": "list_models", "args": {}},
        {"id": "validate", "tool": "validate_params", "args": {"model": "sora-2", "seconds": 10, "size": "1280x720"}},
        {"id": "fit", "tool": "fit_reference_image", "args": {"image": str(photo), "size": "1280x720"}},
        {
            "id": "create",
            "tool": "create_video",
            "args": {"prompt": "A lighthouse at dusk, waves below", "video": SORA2, "wait_seconds": 0},
        },
        {
            "id": "status",
            "tool": "get_video_status",
            "args": {"video_id": "{{create.video_id}}", "wait_seconds": 10},
            "until": {"field": "status", "in": DONE},
        },
        {"id": "list", "tool": "list_videos", "args": {}},
        {"id": "download", "tool": "download_video", "args": {"video_id": "{{create.video_id}}", "variant": "video"}},
        {
            "id": "remix",
            "tool": "remix_video",
            "args": {"video_id": "{{create.video_id}}", "prompt": "The same lighthouse at dawn", "wait_seconds": 10},
        },
        {
            "id": "remix_status",
            "tool": "get_video_status",
            "args": {"video_id": "{{remix.video_id}}", "wait_seconds": 10},
            "until": {"field": "status", "in": DONE},
        },
        {
            "id": "extend",
            "tool": "extend_video",
            "args": {"video_id": "{{create.video_id}}", "prompt": "The camera pulls back", "seconds": 4},
        },
        {
            "id": "extend_status",
            "tool": "get_video_status",
            "args": {"video_id": "{{extend.video_id}}", "wait_seconds": 10},
            "until": {"field": "status", "in": DONE},
        },
        {
            "id": "err_seconds",
            "tool": "create_video",
            "args": {"prompt": "Ten seconds please", "video": {**SORA2, "seconds": "10"}},
        },
        {"id": "err_unknown", "tool": "get_video_status", "args": {"video_id": UNKNOWN, "wait_seconds": 0}},
        {"id": "err_delete_unknown", "tool": "delete_video", "args": {"video_id": UNKNOWN}},
        {"id": "err_outside", "tool": "fit_reference_image", "args": {"image": str(outside), "size": "1280x720"}},
        {
            "id": "err_extend_limit",
            "tool": "extend_video",
            "args": {"video_id": "{{create.video_id}}", "prompt": "Much longer", "seconds": 25},
        },
        {"id": "delete", "tool": "delete_video", "args": {"video_id": "{{create.video_id}}"}},
    ]
    slow_steps: list[dict[str, Any]] = [
        {"id": "create", "tool": "create_video", "args": {"prompt": "Slow clouds", "video": SORA2, "wait_seconds": 0}},
        {"id": "err_not_ready", "tool": "download_video", "args": {"video_id": "{{create.video_id}}"}},
    ]
    budget_steps: list[dict[str, Any]] = [
        {"id": "err_budget", "tool": "create_video", "args": {"prompt": "Over budget", "video": SORA2}},
    ]
    retired_steps: list[dict[str, Any]] = [
        {
            "id": "err_retired",
            "tool": "create_video",
            "args": {"prompt": "Retired model", "video": {**SORA2, "model": "sora-2-pro"}},
        },
    ]
    expired_steps: list[dict[str, Any]] = [
        {"id": "create", "tool": "create_video", "args": {"prompt": "Gone soon", "video": SORA2, "wait_seconds": 0}},
        {"id": "err_expired", "tool": "download_video", "args": {"video_id": "{{create.video_id}}"}, "sleep_ms": 5000},
    ]
    return {
        "command": sora_mcp,
        "args": ["serve"],
        "sessions": [
            {"name": "main", "env": support.server_env(home / "main", SORA_MCP_PROFILE="openai"), "steps": main_steps},
            {
                "name": "slow",
                "env": support.server_env(home / "slow", SORA_MCP_PROFILE="openai", SORA_MCP_SANDBOX_TIME_SCALE="5"),
                "steps": slow_steps,
            },
            {
                "name": "budget",
                "env": support.server_env(
                    home / "budget",
                    SORA_MCP_PROFILE="openai",
                    SORA_MCP_DAILY_BUDGET_USD="0",
                    SORA_MCP_SANDBOX_DAILY_BUDGET_USD="0",
                ),
                "steps": budget_steps,
            },
            {
                "name": "retired",
                "env": support.server_env(
                    home / "retired", SORA_MCP_CATALOG=str(_retired_catalog(home / "retired-catalog.json"))
                ),
                "steps": retired_steps,
            },
            {
                "name": "expired",
                "env": support.server_env(
                    home / "expired",
                    SORA_MCP_PROFILE="openai",
                    SORA_MCP_BACKEND="provider",
                    OPENAI_API_KEY=PROVIDER_KEY,
                    OPENAI_BASE_URL=expiring.base_url,
                ),
                "steps": expired_steps,
            },
        ],
    }


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, sora_mcp: str, node_modules: Path) -> Iterator[dict[str, Any]]:
    """Run the whole scenario once through the SDK; the tests below each check one path of it."""
    home = tmp_path_factory.mktemp("ts-sdk")
    # A provider whose download links expire one second after completion (the real one: an hour); the
    # scenario waits 5 s before downloading, room for a slow render on a busy machine.
    config = SandboxConfig(catalog=load_builtin("openai"), api_key=PROVIDER_KEY, time_scale=0.05, asset_ttl_seconds=1.0)
    with SandboxServer(config) as expiring:
        scenario = _scenario(home, sora_mcp, expiring)
        scenario_file = home / "scenario.json"
        scenario_file.write_text(json.dumps(scenario))
        result = support.run_json(
            ["node", str(support.NODE_DIR / "sdk_scenario.mjs"), str(scenario_file)],
            env=support.tool_env(),
            cwd=support.NODE_DIR,
        )
    assert isinstance(result, dict)
    for name, session in result["sessions"].items():
        assert "fatal" not in session, f"session {name} failed: {session['fatal']}\n{session['stderr']}"
    yield result


def step(report: dict[str, Any], session: str, step_id: str) -> dict[str, Any]:
    outcome: dict[str, Any] = report["sessions"][session]["steps"][step_id]
    return outcome


def _list_models(r: dict[str, Any]) -> None:
    models = assert_success(step(r, "main", "list_models"))["models"]
    assert {m["id"] for m in models} >= {"sora-2", "sora-2-pro"}
    assert "sora-2" in step(r, "main", "list_models")["texts"][0]


def _validate(r: dict[str, Any]) -> None:
    verdict = assert_success(step(r, "main", "validate"))
    assert verdict["valid"] is False
    assert verdict["request"]["seconds"] in (8, 12), show(verdict)
    assert "10" in step(r, "main", "validate")["texts"][0]


def _fit(r: dict[str, Any]) -> None:
    fitted = assert_success(step(r, "main", "fit"))
    assert (fitted["width"], fitted["height"], fitted["size"]) == (1280, 720, "1280x720")
    assert Path(fitted["path"]).is_file()


def _create_and_poll(r: dict[str, Any]) -> None:
    created = assert_success(step(r, "main", "create"))
    assert created["video_id"] and created["status"] in ("queued", "in_progress", "completed")
    final = assert_success(step(r, "main", "status"))
    assert final["video_id"] == created["video_id"]
    assert final["status"] == "completed", show(final)
    assert Path(final["files"]["video"]).is_file()


def _list_videos(r: dict[str, Any]) -> None:
    listing = assert_success(step(r, "main", "list"))
    video_id = step(r, "main", "create")["structured"]["video_id"]
    assert [j["video_id"] for j in listing["jobs"]].count(video_id) == 1
    assert video_id in step(r, "main", "list")["texts"][0]


def _download(r: dict[str, Any]) -> None:
    outcome = step(r, "main", "download")
    view = assert_success(outcome)
    path = view["files"]["video"]
    assert Path(path).is_file() and path.endswith(".mp4")
    assert path in outcome["texts"][0]


def _derived(kind: str) -> Callable[[dict[str, Any]], None]:
    def check(r: dict[str, Any]) -> None:
        parent = step(r, "main", "create")["structured"]["video_id"]
        started = assert_success(step(r, "main", kind))
        final = assert_success(step(r, "main", f"{kind}_status"))
        assert started["video_id"] != parent and final["video_id"] == started["video_id"]
        assert final.get("parent_video_id") == parent and final["status"] == "completed", show(final)
        if kind == "extend":
            assert final["seconds"] == 8, show(final)

    return check


def _delete(r: dict[str, Any]) -> None:
    deleted = assert_success(step(r, "main", "delete"))
    assert deleted["deleted"] is True
    assert deleted["video_id"] == step(r, "main", "create")["structured"]["video_id"]


PATHS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "list_models": _list_models,
    "validate_params": _validate,
    "fit_reference_image": _fit,
    "create_video → get_video_status": _create_and_poll,
    "list_videos": _list_videos,
    "download_video": _download,
    "remix_video": _derived("remix"),
    "extend_video": _derived("extend"),
    "delete_video": _delete,
    "error: illegal seconds ('10')": lambda r: assert_tool_error(
        step(r, "main", "err_seconds"), "'10'", "'4'", "'8'", "'12'", stages={"arguments"}
    ),
    "error: unknown video id": lambda r: assert_tool_error(
        step(r, "main", "err_unknown"), UNKNOWN, stages={"job", "provider"}
    ),
    "error: download before ready": lambda r: assert_tool_error(
        step(r, "slow", "err_not_ready"), "get_video_status", stages={"job"}
    ),
    "error: expired download": lambda r: assert_tool_error(
        step(r, "expired", "err_expired"), "expired", stages={"job", "provider"}
    ),
    "error: delete unknown job": lambda r: assert_tool_error(
        step(r, "main", "err_delete_unknown"), UNKNOWN, stages={"job", "provider"}
    ),
    "error: image outside allowed dirs": lambda r: assert_tool_error(
        step(r, "main", "err_outside"), "allowed", stages={"image"}
    ),
    "error: over budget": lambda r: assert_tool_error(step(r, "budget", "err_budget"), "budget", stages={"budget"}),
    "error: retired model": lambda r: assert_tool_error(
        step(r, "retired", "err_retired"), "retired", "sora-2-pro", stages={"request", "arguments"}
    ),
    "error: extension beyond limit": lambda r: assert_tool_error(
        step(r, "main", "err_extend_limit"), "20", stages={"request", "arguments"}
    ),
}


@pytest.mark.parametrize("path", list(PATHS))
def test_path(path: str, report: dict[str, Any], recorder: Recorder) -> None:
    with recorder.check(CLIENT, report["version"], DRIVEN, path):
        PATHS[path](report)


def test_no_error_is_thrown_as_a_protocol_error(report: dict[str, Any]) -> None:
    thrown = {
        f"{name}.{sid}": o["thrown"]
        for name, session in report["sessions"].items()
        for sid, o in session["steps"].items()
        if o["thrown"]
    }
    assert not thrown, f"the SDK threw instead of returning results: {json.dumps(thrown, indent=1)}"


def test_every_tool_is_listed(report: dict[str, Any]) -> None:
    tools = set(report["sessions"]["main"]["tools"])
    assert tools == {
        "list_models",
        "validate_params",
        "fit_reference_image",
        "create_video",
        "get_video_status",
        "list_videos",
        "download_video",
        "remix_video",
        "extend_video",
        "delete_video",
        "plan_long_video",
        "create_long_video",
    }
