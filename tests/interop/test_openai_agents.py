"""OpenAI Agents SDK (`MCPServerStdio` with defaults): the 5 s timeout, the retry after it, and strict mode.

The SDK cuts a tool call after 5 s while the server keeps working; an agent then retries the same call.
That must not create (and bill) a second job, and the create -> status loop must finish with default
arguments. In strict mode every property becomes required, so every optional argument arrives as a
placeholder ("" or 0); those calls must work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.interop import support
from tests.interop.checks import assert_success, show
from tests.interop.conftest import Recorder

pytestmark = pytest.mark.slow

CLIENT = "openai-agents"
DRIVEN = "`MCPServerStdio` (defaults: 5 s timeout)"
SORA2 = {"model": "sora-2", "seconds": "4", "size": "1280x720"}
TOOLS = 12


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, sora_mcp: str) -> dict[str, Any]:
    python = support.python_client("openai-agents")
    home = tmp_path_factory.mktemp("agents")
    photo = support.write_png(home / "strict" / "images" / "photo.png", 1600, 1200)
    strict_calls: list[list[Any]] = [
        ["list_models", "list_models", {}],
        ["validate_params", "validate_params", {"model": "sora-2", "seconds": "8", "size": "1280x720"}],
        ["fit_reference_image", "fit_reference_image", {"image": str(photo), "size": "1280x720"}],
        ["create_video", "create_video", {"prompt": "A red kite, strict mode", "video": SORA2}],
        ["get_video_status", "get_video_status", {"video_id": "{{create_video.video_id}}"}],
        ["list_videos", "list_videos", {}],
        ["download_video", "download_video", {"video_id": "{{create_video.video_id}}"}],
        ["remix_video", "remix_video", {"video_id": "{{create_video.video_id}}", "prompt": "A blue kite"}],
        [
            "extend_video",
            "extend_video",
            {"video_id": "{{create_video.video_id}}", "prompt": "It flies away", "seconds": 4},
        ],
        ["delete_video", "delete_video", {"video_id": "{{remix_video.video_id}}"}],
    ]
    scenario = {
        "retry": {
            "command": sora_mcp,
            "args": ["serve"],
            # Real-time sandbox jobs (about 6 s): longer than the SDK's 5 s, as real renders are.
            "env": support.server_env(home / "retry", SORA_MCP_SANDBOX_TIME_SCALE="1"),
            "create_args": {"prompt": "A lighthouse in a storm, agents retry", "video": SORA2},
            "max_polls": 12,
        },
        "strict": {
            "command": sora_mcp,
            "args": ["serve"],
            "env": support.server_env(home / "strict", SORA_MCP_PROFILE="openai"),
            "strict_calls": strict_calls,
            "until": {"create_video": ["completed"], "remix_video": ["completed"]},
        },
    }
    result: dict[str, Any] = support.run_driver(python, "agents_driver", scenario, home, timeout=300)
    return result


def test_default_timeout_is_five_seconds(report: dict[str, Any]) -> None:
    assert report["retry"]["timeout_seconds"] == 5


def test_retry_after_timeout_makes_one_job(report: dict[str, Any], recorder: Recorder) -> None:
    retry = report["retry"]
    with recorder.check(CLIENT, report["version"], DRIVEN, "create_video retried as after a timeout: one job"):
        assert retry["jobs_with_prompt"] == 1, (
            f"{retry['jobs_with_prompt']} jobs for one request:\n{show(retry['list'])}"
        )
        second = assert_success(retry["retry"])
        first = retry["first"]
        if first["thrown"] is None:
            assert assert_success(first)["job_id"] == second["job_id"]
            assert any(
                w in retry["retry"]["texts"][0].lower() for w in ("identical", "earlier", "already", "duplicate")
            ), retry["retry"]["texts"][0]


def test_calls_finish_within_the_default_timeout(report: dict[str, Any], recorder: Recorder) -> None:
    retry = report["retry"]
    with recorder.check(CLIENT, report["version"], DRIVEN, "create_video → get_video_status, default arguments"):
        calls = [retry["first"], retry["retry"], *retry["polls"]]
        timed_out = [c["thrown"] for c in calls if c["thrown"]]
        assert not timed_out, f"calls cut by the 5 s timeout: {timed_out}"
        assert retry["polls"], "no get_video_status call was made"
        final = assert_success(retry["polls"][-1])
        assert final["status"] == "completed", show(final)
        assert Path(final["files"]["video"]).is_file()


def test_every_schema_converts_to_strict(report: dict[str, Any], recorder: Recorder) -> None:
    schemas = report["strict"]["schemas"]
    with recorder.check(CLIENT, report["version"], DRIVEN, "strict schema conversion (all tools)"):
        assert len(schemas) == TOOLS
        failed = {name: e["direct"] for name, e in schemas.items() if e["direct"] is not None}
        assert not failed, f"ensure_strict_json_schema raised: {failed}"
        fallback = [name for name, e in schemas.items() if not e["sdk_strict"]]
        assert not fallback, f"the SDK fell back to non-strict for {fallback}: {report['strict']['sdk_log']}"
        assert not any("strict" in m.lower() for m in report["strict"]["sdk_log"]), report["strict"]["sdk_log"]
        for name, entry in schemas.items():
            schema = entry["schema"]
            assert sorted(schema.get("required", [])) == sorted(schema.get("properties", {})), name


def _strict_call(report: dict[str, Any], step_id: str) -> dict[str, Any]:
    outcome: dict[str, Any] = report["strict"]["calls"][step_id]
    return outcome


STRICT_CALLS = [
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
]


@pytest.mark.parametrize("tool", STRICT_CALLS)
def test_strict_placeholders_are_accepted(tool: str, report: dict[str, Any], recorder: Recorder) -> None:
    with recorder.check(CLIENT, report["version"], DRIVEN, f"strict placeholders ({tool})"):
        outcome = _strict_call(report, tool)
        result = assert_success(outcome)
        if tool == "validate_params":
            assert outcome["args"]["reference_width"] == 0 and outcome["args"]["reference_height"] == 0
            assert result["valid"] is True, show(result)
        if tool == "create_video":
            done = assert_success(_strict_call(report, "create_video_done"))
            assert done["status"] == "completed", show(done)
        if tool == "fit_reference_image":
            assert result["size"] == "1280x720"
        if tool == "delete_video":
            assert result["deleted"] is True
