"""pydantic-ai (`MCPToolset(StdioTransport(...))`, `direct_call_tool`): what the model receives.

A success returns the structured result; an error raises `ModelRetry` whose message is the text the model
gets to correct itself, so it must carry the error's message and its fix.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.interop import support
from tests.interop.conftest import Recorder

pytestmark = pytest.mark.slow

CLIENT = "pydantic-ai-slim[mcp]"
DRIVEN = "`MCPToolset(StdioTransport(...))`, `direct_call_tool`"
SORA2 = {"model": "sora-2", "seconds": "4", "size": "1280x720"}
UNKNOWN = "video_00000000000000000000unknown"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, sora_mcp: str) -> dict[str, Any]:
    python = support.python_client("pydantic-ai")
    home = tmp_path_factory.mktemp("pydantic-ai")
    scenario = {
        "command": sora_mcp,
        "args": ["serve"],
        "env": support.server_env(home),
        "calls": [
            ["validate", "validate_params", {"model": "sora-2", "seconds": 10, "size": "1280x720"}],
            ["unknown", "get_video_status", {"video_id": UNKNOWN, "wait_seconds": 0}],
            ["seconds_8s", "create_video", {"prompt": "Eight seconds", "video": {**SORA2, "seconds": "8s"}}],
        ],
    }
    result: dict[str, Any] = support.run_driver(python, "pydantic_ai_driver", scenario, home)
    return result


def test_success(report: dict[str, Any], recorder: Recorder) -> None:
    with recorder.check(CLIENT, report["version"], DRIVEN, "validate_params"):
        call = report["calls"]["validate"]
        assert call["raised"] is None and call["model_retry"] is None, call
        returned = call["returned"]
        assert isinstance(returned, dict) and returned["valid"] is False, returned
        assert returned["request"]["seconds"] in (8, 12)


def _received(report: dict[str, Any], name: str) -> str:
    call = report["calls"][name]
    assert call["raised"] is None, f"raised instead of ModelRetry: {call['raised']}"
    assert call["returned"] is None, f"an error came back as a success: {call['returned']}"
    message = call["model_retry"]
    assert isinstance(message, str) and message
    return message


def test_unknown_id_reaches_the_model_with_its_fix(report: dict[str, Any], recorder: Recorder) -> None:
    with recorder.check(CLIENT, report["version"], DRIVEN, "error: unknown video id (text and fix reach the model)"):
        received = _received(report, "unknown")
        assert UNKNOWN in received and "list_videos" in received, received
        assert "Fix:" in received, f"the model does not get the fix: {received}"


def test_argument_error_reaches_the_model_with_its_fix(report: dict[str, Any], recorder: Recorder) -> None:
    with recorder.check(CLIENT, report["version"], DRIVEN, "error: seconds '8s' (text and fix reach the model)"):
        received = _received(report, "seconds_8s")
        assert "'8s'" in received or '"8s"' in received, received
        assert "Fix:" in received and ("'8'" in received or '"8"' in received), received
