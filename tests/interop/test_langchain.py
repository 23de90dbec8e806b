"""langchain-mcp-adapters: default `get_tools()` (a server process per call) and an explicit session."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.interop import support
from tests.interop.checks import assert_success
from tests.interop.conftest import Recorder

pytestmark = pytest.mark.slow

CLIENT = "langchain-mcp-adapters"
SORA2 = {"model": "sora-2", "seconds": "4", "size": "1280x720"}
UNKNOWN = "video_00000000000000000000unknown"
DONE = ["completed", "failed", "expired"]


def _steps(prompt: str) -> list[list[Any]]:
    return [
        ["create", "create_video", {"prompt": prompt, "video": SORA2, "wait_seconds": 0}],
        ["status", "get_video_status", {"video_id": "{{create.video_id}}", "wait_seconds": 10}, DONE],
        ["unknown", "get_video_status", {"video_id": UNKNOWN, "wait_seconds": 0}],
    ]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, sora_mcp: str) -> dict[str, Any]:
    python = support.python_client("langchain")
    home = tmp_path_factory.mktemp("langchain")
    scenario = {
        "command": sora_mcp,
        "args": ["serve"],
        "env": support.server_env(home),
        "steps": _steps("A windmill, one process per call"),
        "session_steps": _steps("A windmill, one session"),
    }
    result: dict[str, Any] = support.run_driver(python, "langchain_driver", scenario, home)
    return result


def _create_then_status(results: dict[str, Any]) -> None:
    created = assert_success(results["create"])
    final = assert_success(results["status"])
    assert final["video_id"] == created["video_id"] and final["status"] == "completed", final
    assert re.search(r"completed", results["status"]["texts"][0], re.IGNORECASE)


def test_per_call_processes(report: dict[str, Any], recorder: Recorder) -> None:
    driven = "`MultiServerMCPClient.get_tools()` (a process per call)"
    with recorder.check(CLIENT, report["version"], driven, "create_video, then get_video_status in a new process"):
        assert len(report["per_call_tools"]) == 12
        _create_then_status(report["per_call"])


def test_one_session(report: dict[str, Any], recorder: Recorder) -> None:
    driven = "`client.session()` + `load_mcp_tools`"
    with recorder.check(CLIENT, report["version"], driven, "create_video → get_video_status in one session"):
        assert len(report["session_tools"]) == 12
        _create_then_status(report["session"])


def test_error_reaches_the_model_as_text(report: dict[str, Any], recorder: Recorder) -> None:
    driven = "`client.session()` + `load_mcp_tools`"
    with recorder.check(CLIENT, report["version"], driven, "error: unknown video id"):
        for mode in ("per_call", "session"):
            outcome = report[mode]["unknown"]
            assert outcome["thrown"] is None, outcome["thrown"]
            assert outcome["isError"] is True, outcome
            assert UNKNOWN in outcome["texts"][0] and "list_videos" in outcome["texts"][0], outcome
