"""The long-video planner on every shipped profile, its refusals, and the published tools."""

from __future__ import annotations

import pytest
from mcp import Client

from sora_mcp.catalog import load_builtin
from sora_mcp.errors import ToolError
from sora_mcp.longvideo.plan import Ask, Shot, plan
from sora_mcp.server import build_server
from sora_mcp.settings import Settings
from tests.videos_support import error_of, structured

ONE = (Shot(prompt="a product story"),)
EXTENDS = {"openai": True, "apiyi": True, "azure": True, "openrouter": False, "apiyi-veo": False}

# profile, seconds -> (model, segment seconds, method, cost)
EXPECTED = {
    ("openai", 20): ("sora-2", [12, 8], "first_frame", 2.0),
    ("openai", 36): ("sora-2", [12, 12, 12], "first_frame", 3.6),
    ("openai", 40): ("sora-2", [12, 20, 8], "extend", 4.0),
    ("openai", 60): ("sora-2", [12, 20, 20, 8], "extend", 6.0),
    ("apiyi", 40): ("sora-2", [12, 12, 12, 4], "first_frame", 4.0),
    ("azure", 60): ("sora-2", [12, 12, 12, 12, 12], "first_frame", 6.0),
    ("openrouter", 36): ("google/veo-3.1-lite", [8, 8, 8, 8, 4], "first_frame", 1.08),
    ("apiyi-veo", 36): ("veo-3.1-fast-generate-preview", [8, 8, 8, 8, 4], "first_frame", 1.5),
}


@pytest.mark.parametrize(("profile", "seconds"), sorted(EXPECTED))
def test_the_cheapest_legal_plan_per_profile(profile: str, seconds: int) -> None:
    result = plan(load_builtin(profile), Ask(total_seconds=seconds, shots=ONE, can_extend=EXTENDS[profile]))
    model, parts, method, cost = EXPECTED[(profile, seconds)]
    assert (result.model, [s.seconds for s in result.segments], result.method) == (model, parts, method)
    assert result.estimated_cost_usd == pytest.approx(cost)
    assert result.total_seconds == seconds and result.notes[:1] != ["nearest"]
    assert [s.starts_at for s in result.segments] == [sum(parts[:i]) for i in range(len(parts))]


def test_the_issue_examples() -> None:
    shots = tuple(Shot(prompt=f"shot {i}") for i in range(3))
    sora2 = plan(load_builtin("apiyi"), Ask(total_seconds=36, shots=shots, model="sora-2"))
    pro = plan(load_builtin("apiyi"), Ask(total_seconds=40, shots=ONE, model="sora-2-pro"))
    assert [s.seconds for s in sora2.segments] == [12, 12, 12]
    assert [s.prompt for s in sora2.segments] == ["shot 0", "shot 1", "shot 2"]
    assert [s.continuity for s in sora2.segments] == ["prompt", "previous_last_frame", "previous_last_frame"]
    assert [s.seconds for s in pro.segments] == [25, 15] and pro.audio


def test_an_unreachable_total_gets_the_nearest_said_plainly() -> None:
    result = plan(load_builtin("apiyi"), Ask(total_seconds=30, shots=ONE, model="sora-2"))
    assert result.total_seconds == 28
    assert "30 s cannot be made exactly" in result.notes[0] and "the nearest is 28 s" in result.notes[0]


def test_shots_that_do_not_fit_are_refused_with_the_fix() -> None:
    shots = tuple(Shot(prompt=f"shot {i}") for i in range(3))
    with pytest.raises(ToolError) as caught:
        plan(load_builtin("apiyi"), Ask(total_seconds=60, shots=shots, model="sora-2"))
    info = caught.value.info
    assert info.code == "shots_do_not_fit" and "12 to 36 s" in info.message
    assert info.fix is not None and "5 to 15 shots" in info.fix
    with pytest.raises(ToolError, match="add up to 20 s"):
        plan(
            load_builtin("apiyi"),
            Ask(total_seconds=36, shots=(Shot(prompt="a", seconds=8), Shot(prompt="b", seconds=12))),
        )


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_plan_long_video_is_read_only_and_free(mode: str, sandbox_settings: Settings) -> None:
    async with Client(build_server(sandbox_settings), mode=mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        planned = await client.call_tool(
            "plan_long_video", {"total_seconds": 36, "prompt": "a harbour", "model": "sora-2"}
        )
        refused = await client.call_tool(
            "plan_long_video", {"total_seconds": 36, "prompt": "x", "shots": [{"prompt": "y"}]}
        )
    assert tools["plan_long_video"].annotations is not None and tools["plan_long_video"].annotations.read_only_hint
    create = tools["create_long_video"].annotations
    assert create is not None and not create.read_only_hint and not create.idempotent_hint
    assert structured(planned)["estimated_cost_usd"] == pytest.approx(3.6)
    assert error_of(refused)["param"] == "shots"


def test_a_profile_whose_models_are_all_retired_says_so() -> None:
    import datetime as dt

    retired = load_builtin("azure").for_endpoint("https://x.openai.azure.com/openai/v1", dt.date(2026, 12, 1))
    with pytest.raises(ToolError, match="Every model of profile 'azure' is retired"):
        plan(retired, Ask(total_seconds=36, shots=ONE))
