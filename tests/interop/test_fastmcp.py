"""fastmcp's `Client` over stdio: it negotiates the newest protocol and parses results through output schemas."""

from __future__ import annotations

from typing import Any

import pytest

from tests.interop import support
from tests.interop.checks import assert_success, assert_tool_error
from tests.interop.conftest import Recorder

pytestmark = pytest.mark.slow

CLIENT = "fastmcp"
DRIVEN = "`Client(StdioTransport(...))`"
UNKNOWN = "video_00000000000000000000unknown"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, sora_mcp: str) -> dict[str, Any]:
    python = support.python_client("fastmcp")
    home = tmp_path_factory.mktemp("fastmcp")
    scenario = {
        "command": sora_mcp,
        "args": ["serve"],
        "env": support.server_env(home),
        "calls": [
            ["validate", "validate_params", {"model": "sora-2", "seconds": 10, "size": "1280x720"}],
            [
                "create",
                "create_video",
                {
                    "prompt": "A paper boat",
                    "video": {"model": "sora-2", "seconds": "4", "size": "1280x720"},
                    "wait_seconds": 10,
                },
            ],
            ["error", "get_video_status", {"video_id": UNKNOWN, "wait_seconds": 0}],
        ],
        "probe": {"validate": ["valid", "request"], "create": ["video_id", "status"]},
    }
    result: dict[str, Any] = support.run_driver(python, "fastmcp_driver", scenario, home)
    return result


def test_lists_every_tool(report: dict[str, Any], recorder: Recorder) -> None:
    with recorder.check(CLIENT, report["version"], DRIVEN, "tools/list"):
        assert len(report["tools"]) == 12 and "create_video" in report["tools"]


def test_success_parsed_through_the_output_schema(report: dict[str, Any], recorder: Recorder) -> None:
    with recorder.check(CLIENT, report["version"], DRIVEN, "validate_params, create_video (typed via output schema)"):
        verdict = assert_success(report["validate"])
        assert verdict["valid"] is False
        assert report["validate"]["data_type"] == "Verdict", report["validate"]
        assert report["validate"]["data_probe"]["valid"] == "False"
        assert "seconds=12" in report["validate"]["data_probe"]["request"]
        created = assert_success(report["create"])
        assert created["status"] == "completed", created
        assert report["create"]["data_probe"]["video_id"] == repr(created["video_id"])


def test_error_arrives_as_text(report: dict[str, Any], recorder: Recorder) -> None:
    with recorder.check(CLIENT, report["version"], DRIVEN, "error: unknown video id"):
        assert_tool_error(report["error"], UNKNOWN, stages={"job", "provider"})
