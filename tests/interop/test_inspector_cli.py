"""MCP Inspector's CLI mode: a new `sora-mcp serve` process for every call, as a shell script would use it.

A job created by one call must be found by the next (another process, same SORA_MCP_HOME).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.interop import support
from tests.interop.checks import assert_success, assert_tool_error
from tests.interop.conftest import Recorder

pytestmark = pytest.mark.slow

CLIENT = "@modelcontextprotocol/inspector"
DRIVEN = "`--cli` (one process per call)"
SORA2 = {"model": "sora-2", "seconds": "4", "size": "1280x720"}


class Inspector:
    def __init__(self, modules: Path, sora_mcp: str, env: dict[str, str]) -> None:
        self.bin = modules / ".bin" / "mcp-inspector"
        self.sora_mcp = sora_mcp
        self.env = env
        self.version = support.node_package_version(modules, "@modelcontextprotocol/inspector")

    def __call__(self, method: str, tool: str | None = None, **args: Any) -> dict[str, Any]:
        """Run one `--cli` call; the outcome in the shape of `checks` (thrown = the CLI's failure message)."""
        argv = [str(self.bin), "--cli", self.sora_mcp, "serve", "--method", method]
        if tool is not None:
            argv += ["--tool-name", tool]
        for key, value in args.items():
            argv += ["--tool-arg", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
        completed = support.run(argv, env=self.env, timeout=90, cwd=support.NODE_DIR, check=False)
        try:
            printed = json.loads(completed.stdout)
        except json.JSONDecodeError:
            printed = None
        if completed.returncode != 0 or not isinstance(printed, dict):
            message = (completed.stderr.strip() or completed.stdout.strip()).splitlines()
            return {"isError": None, "texts": [], "structured": None, "thrown": message[0] if message else "no output"}
        texts = [b["text"] for b in printed.get("content", []) if b.get("type") == "text"]
        return {
            "isError": printed.get("isError", False) if "content" in printed else None,
            "texts": texts,
            "structured": printed.get("structuredContent"),
            "thrown": None,
            "raw": printed,
        }


@pytest.fixture
def inspector(node_modules: Path, sora_mcp: str, client_home: Path) -> Inspector:
    return Inspector(node_modules, sora_mcp, support.server_env(client_home))


def test_tools_list(inspector: Inspector, recorder: Recorder) -> None:
    with recorder.check(CLIENT, inspector.version, DRIVEN, "tools/list"):
        listed = inspector("tools/list")
        assert listed["thrown"] is None, listed["thrown"]
        names = [t["name"] for t in listed["raw"]["tools"]]
        assert len(names) == 12 and {"create_video", "get_video_status", "validate_params"} <= set(names)


def test_validate_params(inspector: Inspector, recorder: Recorder) -> None:
    with recorder.check(CLIENT, inspector.version, DRIVEN, "validate_params"):
        outcome = inspector("tools/call", "validate_params", model="sora-2", seconds="10", size="1280x720")
        verdict = assert_success(outcome)
        assert verdict["valid"] is False and verdict["request"]["seconds"] in (8, 12)
        assert "'10'" in outcome["texts"][0]


def test_create_then_status_in_the_next_process(inspector: Inspector, recorder: Recorder) -> None:
    with recorder.check(CLIENT, inspector.version, DRIVEN, "create_video, then get_video_status in a new process"):
        created = assert_success(
            inspector("tools/call", "create_video", prompt="A kite over dunes", video=SORA2, wait_seconds=0)
        )
        video_id = created["video_id"]
        final: dict[str, Any] = {}
        for _ in range(5):
            final = assert_success(inspector("tools/call", "get_video_status", video_id=video_id, wait_seconds=10))
            if final["status"] in ("completed", "failed", "expired"):
                break
        assert final["video_id"] == video_id and final["status"] == "completed", final
        assert Path(final["files"]["video"]).is_file()


def test_an_error_arrives_as_text(inspector: Inspector, recorder: Recorder) -> None:
    with recorder.check(CLIENT, inspector.version, DRIVEN, "error: illegal seconds ('10')"):
        outcome = inspector("tools/call", "create_video", prompt="Ten seconds", video={**SORA2, "seconds": "10"})
        assert_tool_error(outcome, "'10'", "'4'", "'8'", "'12'", stages={"arguments"})
