from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import TextContent

from sora_mcp.catalog import active_catalog, load_builtin
from sora_mcp.server import build_server
from sora_mcp.settings import Settings
from sora_mcp.sizes import Size, SizeError, nearest_size, parse_size_wish
from sora_mcp.validation import Wish, check, nearest_seconds, summarize
from tests.wrong_values import WRONG_VALUES, check_row

APIYI = load_builtin("apiyi")
OPENAI = load_builtin("openai")


@pytest.mark.parametrize(("model", "wanted", "fixes"), WRONG_VALUES)
def test_the_seed_table_of_wrong_values(model: str, wanted: int, fixes: tuple[int, ...]) -> None:
    verdict = check(APIYI, Wish(model=model, seconds=wanted))
    check_row(verdict.model_dump(mode="json"), model, wanted, fixes)


def test_ten_seconds_on_sora_2_suggests_sora_2_pro() -> None:
    verdict = check(APIYI, Wish(model="sora-2", seconds=10, size="1280x720"))
    assert [(a.model, a.seconds, a.size) for a in verdict.alternatives] == [("sora-2-pro", 10, "1280x720")]
    assert verdict.alternatives[0].estimated_cost_usd == pytest.approx(3.0)
    assert "sora-2-pro" in summarize(verdict)


@pytest.mark.parametrize("seconds", [8, "8", "8s", " 8 seconds ", 8.0])
def test_seconds_in_any_spelling(seconds: int | str | float) -> None:
    verdict = check(OPENAI, Wish(model="sora-2", seconds=seconds, size="1280x720"))
    assert verdict.valid, verdict.errors
    assert verdict.request is not None
    assert verdict.request.seconds == 8
    assert verdict.request.wire_seconds == "8"  # the official contract wants a string
    assert check(APIYI, Wish(model="sora-2", seconds=8)).request.wire_seconds == 8  # type: ignore[union-attr]


@pytest.mark.parametrize("seconds", ["ten", "0", "-4", -4, 7.5, 0.5, float("nan"), float("-inf"), "1e3", True])
def test_unreadable_or_impossible_seconds(seconds: int | str | float) -> None:
    verdict = check(OPENAI, Wish(model="sora-2", seconds=seconds))
    assert not verdict.valid
    assert verdict.errors[0].param == "seconds"
    assert verdict.errors[0].code == "invalid_value"
    assert verdict.errors[0].message.endswith("Supported values are: '4', '8', and '12'.")
    assert verdict.request is not None and verdict.request.seconds in (4, 8, 12)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("1280x720", "1280x720"),
        ("1280×720", "1280x720"),
        ("1280 X 720", "1280x720"),
        ("720p landscape", "1280x720"),
        ("720p portrait", "720x1280"),
        ("portrait", "720x1280"),
        ("9:16", "720x1280"),
    ],
)
def test_sizes_in_any_spelling(size: str, expected: str) -> None:
    verdict = check(OPENAI, Wish(model="sora-2", seconds=4, size=size))
    assert verdict.request is not None and verdict.request.size == expected
    assert verdict.valid  # a descriptive size is understood, not an error


def test_an_illegal_size_gets_the_apis_message_and_the_nearest_legal_size() -> None:
    verdict = check(OPENAI, Wish(model="sora-2", seconds=4, size="1920x1080"))
    assert verdict.errors[0].model_dump() == {
        "message": "Invalid value: '1920x1080'. Supported values are: '720x1280' and '1280x720'.",
        "type": "invalid_request_error",
        "param": "size",
        "code": "invalid_value",
    }
    assert verdict.request is not None and verdict.request.size == "1280x720"
    pro = check(OPENAI, Wish(model="sora-2-pro", seconds=4, size="1080p landscape"))
    assert pro.valid and pro.request is not None and pro.request.size == "1792x1024"
    assert pro.request.estimated_cost_usd == pytest.approx(2.0)


def test_a_malformed_size_is_named() -> None:
    verdict = check(OPENAI, Wish(model="sora-2", seconds=4, size="big"))
    assert verdict.errors[0].message.startswith("Invalid value: 'big'. Supported values are:")
    assert any("'big' is not a size" in a for a in verdict.adjustments)


def test_an_unknown_model_lists_the_models_and_guesses() -> None:
    verdict = check(OPENAI, Wish(model="sora-2-pr", seconds=4))
    assert verdict.errors[0].model_dump() == {
        "message": "Invalid value: 'sora-2-pr'. Supported values are: 'sora-2' and 'sora-2-pro'.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "invalid_value",
    }
    assert verdict.request is not None and verdict.request.model == "sora-2-pro"


def test_no_model_picks_the_one_that_grants_the_wish() -> None:
    verdict = check(APIYI, Wish(seconds=15))
    assert verdict.valid and verdict.request is not None
    assert (verdict.request.model, verdict.request.seconds) == ("sora-2-pro", 15)
    empty = check(APIYI, Wish())
    assert empty.valid and empty.request is not None
    assert (empty.request.model, empty.request.seconds, empty.request.size) == ("sora-2", 4, "1280x720")


def test_snapshot_aliases_are_kept() -> None:
    verdict = check(OPENAI, Wish(model="SORA-2-2025-12-08", seconds="12", size="720x1280"))
    assert verdict.valid and verdict.request is not None
    assert verdict.request.model == "sora-2-2025-12-08"


def test_reference_image_size_is_checked() -> None:
    bad = check(OPENAI, Wish(model="sora-2", seconds=4, size="1280x720", reference_width=4032, reference_height=3024))
    assert not bad.valid
    assert bad.errors[-1].model_dump() == {
        "message": "Inpaint image must match the requested width and height",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert bad.reference_image is not None and "fit_reference_image" in (bad.reference_image.fix or "")
    good = check(OPENAI, Wish(model="sora-2", seconds=4, size="1280x720", reference_width=1280, reference_height=720))
    assert good.valid and good.reference_image is not None and good.reference_image.matches


def test_a_retired_model_is_refused_with_its_date() -> None:
    catalog = active_catalog(
        "openai", None, base_url="https://api.openai.com/v1", azure_deployment=None, today=dt.date(2026, 11, 21)
    )
    verdict = check(catalog, Wish(model="sora-2", seconds=4, size="720x1280"))
    assert not verdict.valid
    assert verdict.request is None
    assert verdict.errors[0].code == "model_not_found"
    assert "2026-09-24" in verdict.errors[0].message
    assert any("OPENAI_BASE_URL" in w for w in verdict.warnings)


@given(wanted=st.integers(min_value=1, max_value=120))
def test_the_correction_is_always_legal_and_nearest(wanted: int) -> None:
    for model in APIYI:
        verdict = check(APIYI, Wish(model=model.id, seconds=wanted))
        assert verdict.request is not None
        chosen = verdict.request.seconds
        assert chosen in model.seconds
        assert all(abs(chosen - wanted) <= abs(s - wanted) for s in model.seconds)
        assert verdict.valid == (wanted in model.seconds)


def test_nearest_seconds_breaks_ties_upward() -> None:
    assert nearest_seconds(6, (4, 8, 12)) == 8
    assert nearest_seconds(10, (4, 8, 12)) == 12
    assert nearest_seconds(20, (10, 15, 25)) == 25


# Hostile inputs: every value of the right JSON type gets a verdict, never an exception.

HUGE = int("9" * 500)


@pytest.mark.parametrize("size", ["000p", "0000p landscape", "000p portrait", "0p", "0x720", "0:0", "12345p"])
def test_zero_or_absurd_tiers_are_size_errors(size: str) -> None:
    verdict = check(OPENAI, Wish(model="sora-2", seconds=4, size=size))
    assert not verdict.valid
    assert verdict.errors[0].param == "size"
    assert verdict.request is not None and verdict.request.size == "720x1280"  # the default


@pytest.mark.parametrize(
    "wish",
    [
        Wish(model="sora-2", seconds=HUGE),
        Wish(model="sora-2", seconds=str(HUGE)),
        Wish(model="sora-2", duration=HUGE),
        Wish(model="sora-2", seconds=-HUGE),
        Wish(model="sora-2", seconds=10**5000),  # str() of it would raise: more than 4300 digits
        Wish(model="sora-2", seconds=1e308),
        Wish(model="sora-2", seconds=float("inf")),
        Wish(model="sora-2", seconds=3601),
        Wish(model="sora-2", seconds="3601 s"),
    ],
)
def test_huge_durations_are_refused_with_the_limit(wish: Wish) -> None:
    verdict = check(OPENAI, wish)
    assert not verdict.valid
    assert verdict.errors[0].param == "seconds"
    assert len(verdict.errors[0].message) < 200  # a 500-digit number is quoted shortened
    assert verdict.request is not None and verdict.request.seconds in (4, 12)
    if verdict.request.seconds == 12:  # longer than any legal duration: the longest, and the limit is named
        assert any("3600 s" in w for w in verdict.warnings)
        assert "3600 s" in summarize(verdict)


def test_a_huge_number_is_quoted_by_its_digits() -> None:
    message = check(OPENAI, Wish(model="sora-2", seconds=HUGE)).errors[0].message
    assert message.startswith("Invalid value: '999999999999… (500 digits)'.")


@pytest.mark.parametrize("field", ["model", "seconds", "duration", "size"])
@pytest.mark.parametrize(
    "text", ["\ud800", "a\udfffb", "x" * 1_000_000, " " * 200_000 + "x", "1" + " " * 200_000 + "x"]
)
def test_surrogates_and_huge_text_are_answered_and_serialisable(field: str, text: str) -> None:
    verdict = check(OPENAI, Wish.model_validate({field: text}))
    assert not verdict.valid
    dumped = verdict.model_dump_json()  # pydantic refuses lone surrogates when encoding JSON
    assert "\\ud800" not in dumped and len(dumped) < 10_000
    assert len(summarize(verdict)) < 2_000


@pytest.mark.parametrize(("width", "height"), [(-1, 720), (1280, -720), (HUGE, 720), (70_000, 70_000)])
def test_impossible_reference_dimensions_are_named(width: int, height: int) -> None:
    verdict = check(
        OPENAI, Wish(model="sora-2", seconds=4, size="1280x720", reference_width=width, reference_height=height)
    )
    assert not verdict.valid
    assert {e.param for e in verdict.errors} <= {"reference_width", "reference_height"}
    assert "65535" in verdict.errors[0].message
    assert verdict.reference_image is None
    verdict.model_dump_json()


_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec=None), max_size=40),  # surrogates included
    st.text(alphabet="0123456789xXp:. landscapeportrait×s", max_size=24),
    st.sampled_from(
        ["", " ", "000p", "0000p landscape", "720p", "1280x720", "9:16", "１２８０x７２０", "10s", "\ud800"]
    ),
)
_NUMBER = st.one_of(
    st.none(),
    st.integers(),
    st.integers(min_value=-(10**600), max_value=10**600),
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
)
_PIXELS = st.one_of(st.none(), st.integers(-3, 70_000), st.integers(), st.just(10**5000))


@settings(max_examples=400, deadline=None)
@given(
    profile=st.sampled_from(["openai", "apiyi", "azure"]),
    model=st.one_of(st.none(), _TEXT, st.sampled_from(["sora-2", "sora-2-pro", "SORA-2-2025-12-08"])),
    seconds=_NUMBER,
    duration=_NUMBER,
    size=st.one_of(st.none(), _TEXT),
    width=_PIXELS,
    height=_PIXELS,
    placeholders=st.booleans(),
)
def test_any_wish_gets_a_verdict(
    profile: str,
    model: str | None,
    seconds: int | float | str | None,
    duration: int | float | str | None,
    size: str | None,
    width: int | None,
    height: int | None,
    placeholders: bool,
) -> None:
    wish = Wish(
        model=model, seconds=seconds, duration=duration, size=size, reference_width=width, reference_height=height
    )
    verdict = check(load_builtin(profile), wish, placeholders=placeholders)
    assert verdict.request is not None
    assert verdict.valid == (not verdict.errors)
    spec = load_builtin(profile).find(verdict.request.model)
    assert spec is not None and spec.allows(verdict.request.seconds, verdict.request.size)  # always a legal request
    assert len(verdict.model_dump_json()) < 20_000
    assert len(summarize(verdict)) < 5_000


@settings(max_examples=300, deadline=None)
@given(text=_TEXT)
def test_size_parsing_only_raises_size_errors(text: str) -> None:
    for parse in (Size.parse, parse_size_wish):
        try:
            parsed = parse(text)
        except SizeError as exc:
            assert len(str(exc)) < 400
            str(exc).encode("utf-8")  # no lone surrogate quoted back
        else:
            assert parsed is not None
    try:
        wish = parse_size_wish(text)
    except SizeError:
        return
    chosen = nearest_size(wish, OPENAI.models[0].frame_sizes, Size(1280, 720))
    assert str(chosen) in OPENAI.models[0].sizes


# Strict-mode placeholders: "" and 0 mean "not given".

PLACEHOLDERS: dict[str, str | int] = {
    "model": "",
    "seconds": "",
    "duration": "",
    "size": "",
    "reference_width": 0,
    "reference_height": 0,
}

_REAL_VALUES: dict[str, st.SearchStrategy[object]] = {
    "model": st.sampled_from(["sora-2", "sora-2-pro", "sora-2-pr", "SORA-2-2025-12-08"]),
    "seconds": st.sampled_from([4, 8, "12", "10s", 15, 7.5, "ten", -4]),
    "duration": st.sampled_from([4, 8, "12", 25, 30]),
    "size": st.sampled_from(["1280x720", "720p portrait", "1920x1080", "portrait", "big"]),
    "reference_width": st.sampled_from([1280, 720, 4032, -1]),
    "reference_height": st.sampled_from([720, 1280, 3024]),
}


@settings(max_examples=200, deadline=None)
@given(
    profile=st.sampled_from(["openai", "apiyi"]),
    given_values=st.fixed_dictionaries({}, optional=_REAL_VALUES),
    zero_seconds=st.booleans(),
)
def test_placeholders_give_the_same_verdict_as_omitting(
    profile: str, given_values: dict[str, object], zero_seconds: bool
) -> None:
    catalog = load_builtin(profile)
    filled = {**PLACEHOLDERS, **given_values}
    if zero_seconds:  # a number-typed client sends 0 where a text-typed one sends ""
        filled.update({k: 0 for k in ("seconds", "duration") if k not in given_values})
    omitted = check(catalog, Wish.model_validate(given_values))
    assert check(catalog, Wish.model_validate(filled)) == omitted


def test_all_placeholders_are_a_legal_default_request() -> None:
    verdict = check(APIYI, Wish.model_validate(PLACEHOLDERS))
    assert verdict.valid, verdict.errors
    assert verdict.reference_image is None and verdict.warnings == []
    assert verdict.request is not None
    assert (verdict.request.model, verdict.request.seconds, verdict.request.size) == ("sora-2", 4, "1280x720")
    legal = check(APIYI, Wish(model="sora-2-pro", seconds=15, size="1280x720", reference_width=0, reference_height=0))
    assert legal.valid, legal.errors  # the bug: 0x0 reference dimensions made every legal request invalid


def test_duration_stands_in_for_a_placeholder_seconds() -> None:
    verdict = check(APIYI, Wish(seconds="", duration=15))
    assert verdict.valid and verdict.request is not None and verdict.request.seconds == 15
    both = check(APIYI, Wish(model="sora-2", seconds=8, duration=12))
    assert both.request is not None and both.request.seconds == 8
    assert any("disagree" in w for w in both.warnings)


def test_without_placeholders_empty_and_zero_are_values() -> None:
    verdict = check(
        OPENAI,
        Wish(model="sora-2", seconds="", size="", reference_width=0, reference_height=0),
        placeholders=False,
    )
    assert {e.param for e in verdict.errors} == {"seconds", "size", "reference_width", "reference_height"}
    assert check(OPENAI, Wish(model="sora-2", seconds=0, size="1280x720"), placeholders=False).errors[0].param == (
        "seconds"
    )


# The same through the tool, in both protocol eras.


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("field", ["model", "size", "seconds", "duration"])
async def test_validate_params_refuses_lone_surrogates_by_name(
    validate_server: MCPServer, mode: str, field: str
) -> None:
    async with Client(validate_server, mode=mode) as client:
        result = await client.call_tool("validate_params", {field: "a\ud800"})
        assert not (await client.call_tool("list_models", {})).is_error
    assert result.is_error and result.structured_content is None
    texts = [b.text for b in result.content if isinstance(b, TextContent)]
    assert f"'{field}'" in texts[0]
    info = json.loads(texts[1])
    assert info["stage"] in ("arguments", "request") and info["param"] == field


TOOL_WISHES: list[dict[str, object]] = [
    {},
    {"model": "sora-2", "seconds": "8", "size": "1280x720"},
    {"model": "sora-2-pro", "seconds": 15, "size": "720p portrait"},
    {"seconds": 10, "size": "1920x1080"},
    {"model": "sora-2", "seconds": "8", "size": "1280x720", "reference_width": 1280, "reference_height": 720},
    {"model": "sora-2", "reference_width": 4032, "reference_height": 3024},
    {"size": "portrait"},
]


@pytest.fixture
def validate_server(sandbox_settings: Settings) -> MCPServer:
    return build_server(sandbox_settings)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_validate_params_placeholders_give_the_same_verdict_as_omitting(
    validate_server: MCPServer, mode: str
) -> None:
    async with Client(validate_server, mode=mode) as client:
        for wish in TOOL_WISHES:
            for placeholders in (PLACEHOLDERS, {**PLACEHOLDERS, "seconds": 0, "duration": 0}):
                omitted = await client.call_tool("validate_params", wish)
                filled = await client.call_tool("validate_params", {**placeholders, **wish})
                assert not omitted.is_error and not filled.is_error
                assert filled.structured_content == omitted.structured_content, wish
                assert filled.content[0] == omitted.content[0]
        legal = await client.call_tool(
            "validate_params", {**PLACEHOLDERS, "model": "sora-2", "seconds": "8", "size": "1280x720"}
        )
        assert legal.structured_content is not None and legal.structured_content["valid"] is True


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize(
    "arguments",
    [
        {"size": "000p"},
        {"size": "0000p landscape"},
        {"seconds": str(HUGE)},
        {"seconds": "1" + " " * 100_000 + "s"},
        {"model": "x" * 1_000_000},
    ],
)
async def test_validate_params_answers_the_fuzz_findings(
    validate_server: MCPServer, mode: str, arguments: dict[str, object]
) -> None:
    async with Client(validate_server, mode=mode) as client:
        result = await client.call_tool("validate_params", arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None and result.structured_content["valid"] is False
    text = result.content[0].text  # type: ignore[union-attr]
    assert text.startswith("Not valid: Invalid value:") and len(text) < 1_000


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("arguments", [{"seconds": HUGE}, {"duration": HUGE}, {"reference_width": 10**5000}])
async def test_numbers_beyond_the_published_bound_are_refused_with_it(
    validate_server: MCPServer, mode: str, arguments: dict[str, object]
) -> None:
    """Every published number is bounded (10**12), so a 500- or 5000-digit one is an argument error naming it."""
    async with Client(validate_server, mode=mode) as client:
        result = await client.call_tool("validate_params", arguments)
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "must be at most 1000000000000" in text and len(text) < 400


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_validate_params_reads_duration_when_seconds_is_a_placeholder(
    validate_server: MCPServer, mode: str
) -> None:
    async with Client(validate_server, mode=mode) as client:
        result = await client.call_tool("validate_params", {**PLACEHOLDERS, "duration": 15})
    assert result.structured_content is not None
    assert result.structured_content["request"]["seconds"] == 15


# The new axes: cross-constraints, aspect ratios, audio, seed, frame images, free text.

OPENROUTER = load_builtin("openrouter")
APIYI_VEO = load_builtin("apiyi-veo")
VEO = "veo-3.1-generate-preview"


def test_a_size_allowed_only_at_some_durations_moves_the_duration() -> None:
    verdict = check(APIYI_VEO, Wish(model=VEO, seconds=4, size="1080p"))
    assert not verdict.valid
    assert verdict.errors[0].model_dump() == {
        "message": "Invalid value: '4'. Supported values are: '8'.",
        "type": "invalid_request_error",
        "param": "seconds",
        "code": "invalid_value",
    }
    assert verdict.request is not None
    assert (verdict.request.seconds, verdict.request.size, verdict.request.wire_seconds) == (8, "1920x1080", "8")
    assert (verdict.request.resolution, verdict.request.aspect_ratio) == ("1080p", "16:9")
    assert verdict.request.estimated_cost_usd == pytest.approx(1.2)  # per request, whatever the length
    assert any("only at 8 s" in a for a in verdict.adjustments)
    four_k = check(APIYI_VEO, Wish(model=VEO, size="4k portrait"))
    assert four_k.valid and four_k.request is not None
    assert (four_k.request.seconds, four_k.request.size) == (8, "2160x3840")
    short = check(APIYI_VEO, Wish(model=VEO, seconds=4))
    assert short.valid and short.request is not None and short.request.size == "1280x720"


def test_ten_seconds_vertical_1080p_names_the_models_that_grant_it() -> None:
    verdict = check(OPENROUTER, Wish(model="google/veo-3.1", text="10 s vertical 1080p"))
    assert not verdict.valid and verdict.errors[0].param == "seconds"
    assert verdict.request is not None and (verdict.request.seconds, verdict.request.size) == (8, "1080x1920")
    assert verdict.request.duration_param == "duration" and verdict.request.wire_seconds == 8
    alternatives = {a.model: a for a in verdict.alternatives}
    assert alternatives["alibaba/wan-2.6"].seconds == 10 and alternatives["alibaba/wan-2.6"].size == "1080x1920"
    assert alternatives["alibaba/wan-2.6"].estimated_cost_usd == pytest.approx(1.2)
    for alt in verdict.alternatives:
        spec = OPENROUTER.find(alt.model)
        assert spec is not None and spec.allows(alt.seconds, alt.size) and alt.size == "1080x1920"
    same = check(OPENROUTER, Wish(model="google/veo-3.1", seconds=10, size="vertical 1080p"))
    assert same.request == verdict.request and same.alternatives == verdict.alternatives


def test_an_aspect_ratio_is_met_exactly_or_named() -> None:
    wan = check(OPENROUTER, Wish(model="alibaba/wan-2.7", seconds=5, size="4:3"))
    assert wan.valid and wan.request is not None and wan.request.size == "960x720"
    tall = check(OPENROUTER, Wish(model="alibaba/wan-2.7", seconds=5, size="1080p 3:4"))
    assert tall.request is not None and tall.request.size == "1080x1440"
    veo = check(OPENROUTER, Wish(model="google/veo-3.1", size="4:3"))
    assert veo.valid and veo.request is not None and veo.request.size == "1280x720"
    assert any("exactly '4:3'" in w for w in veo.warnings)
    assert veo.alternatives and all(a.size in ("960x720", "1440x1080") for a in veo.alternatives)


def test_audio_on_request_or_refused() -> None:
    loud = check(OPENROUTER, Wish(model="google/veo-3.1", seconds=8, size="1280x720", audio=True))
    assert loud.valid and loud.request is not None and loud.request.audio is True
    assert loud.request.estimated_cost_usd == pytest.approx(3.2)
    assert "audio: true" in summarize(loud)
    quiet = check(OPENROUTER, Wish(model="google/veo-3.1", seconds=8, size="1280x720"))
    assert quiet.request is not None and quiet.request.audio is False
    assert quiet.request.estimated_cost_usd == pytest.approx(1.6)
    mute = check(OPENROUTER, Wish(model="minimax/hailuo-2.3", text="with audio"))
    assert not mute.valid and mute.errors[0].param == "audio"
    assert mute.errors[0].code == "unsupported_parameter" and mute.request is not None and mute.request.audio is None
    assert mute.alternatives and all(OPENROUTER.find(a.model).audio != "none" for a in mute.alternatives)  # type: ignore[union-attr]
    silent = check(APIYI_VEO, Wish(model=VEO, text="silent"))
    assert not silent.valid and "always makes audio" in silent.errors[0].message
    assert check(APIYI_VEO, Wish(model=VEO, audio=True)).valid  # always on: granted
    assert check(load_builtin("apiyi"), Wish(model="sora-2", audio=True)).errors[0].param == "audio"


def test_first_and_last_frame_and_seed() -> None:
    wan = check(OPENROUTER, Wish(model="alibaba/wan-2.6", text="first and last frame"))
    assert not wan.valid and wan.errors[0].param == "last_frame"
    assert {a.model for a in wan.alternatives} <= {m.id for m in OPENROUTER if m.last_frame}
    assert wan.alternatives
    both = check(OPENROUTER, Wish(model="google/veo-3.1", last_frame=True, seed=42))
    assert both.valid and both.request is not None
    assert (both.request.last_frame, both.request.seed) == (True, 42)
    assert "seed: 42" in summarize(both) and "last_frame:" in summarize(both)
    kling = check(OPENROUTER, Wish(model="kwaivgi/kling-v3.0-pro", seed=7))
    assert kling.errors[0].param == "seed" and kling.request is not None and kling.request.seed is None
    wild = check(OPENROUTER, Wish(model="google/veo-3.1", seed=2**31))
    assert wild.errors[0].message == "Invalid value for 'seed': 2147483648. A seed is 0 to 2147483647."


def test_no_model_picks_one_that_grants_every_wish() -> None:
    verdict = check(OPENROUTER, Wish(text="10 s vertical 1080p with audio, first and last frame"))
    assert verdict.valid, verdict.errors
    assert verdict.request is not None
    spec = OPENROUTER.find(verdict.request.model)
    assert spec is not None and spec.audio_optional and spec.last_frame
    assert (verdict.request.seconds, verdict.request.size, verdict.request.audio) == (10, "1080x1920", True)


def test_a_listed_only_model_says_why() -> None:
    verdict = check(OPENROUTER, Wish(model="runway/aleph-2"))
    assert not verdict.valid and verdict.errors[0].param == "model"
    assert any("listed by the provider but cannot be requested" in w for w in verdict.warnings)


def test_token_priced_models_say_why_the_cost_is_unknown() -> None:
    verdict = check(OPENROUTER, Wish(model="bytedance/seedance-2.0", seconds=5))
    assert verdict.valid and verdict.request is not None and verdict.request.estimated_cost_usd is None
    assert any("per video token" in w for w in verdict.warnings)


NEW_PLACEHOLDERS: dict[str, object] = {"audio": False, "seed": 0, "last_frame": False, "text": ""}


@settings(max_examples=150, deadline=None)
@given(
    profile=st.sampled_from(["openrouter", "apiyi-veo", "apiyi"]),
    given_values=st.fixed_dictionaries(
        {},
        optional={
            "model": st.sampled_from(["google/veo-3.1", "alibaba/wan-2.6", VEO, "sora-2", "minimax/hailuo-2.3"]),
            "seconds": st.sampled_from([4, 8, 10, "6", 30]),
            "size": st.sampled_from(["1080p", "4:3", "portrait", "1920x1080", "4k"]),
            "audio": st.just(True),
            "seed": st.sampled_from([7, -1]),
            "last_frame": st.just(True),
            "text": st.sampled_from(["10 s vertical 1080p", "silent", "with audio, first and last frame"]),
        },
    ),
)
def test_new_placeholders_give_the_same_verdict_as_omitting(profile: str, given_values: dict[str, object]) -> None:
    catalog = load_builtin(profile)
    omitted = check(catalog, Wish.model_validate(given_values))
    assert check(catalog, Wish.model_validate({**NEW_PLACEHOLDERS, **given_values})) == omitted


@settings(max_examples=300, deadline=None)
@given(
    profile=st.sampled_from(["openrouter", "apiyi-veo"]),
    model=st.one_of(st.none(), st.sampled_from([m.id for m in OPENROUTER] + [m.id for m in APIYI_VEO]), _TEXT),
    seconds=st.one_of(st.sampled_from([4, 6, 8, "4 s", 10]), _NUMBER),
    size=st.one_of(
        st.sampled_from(["1080p", "4k", "4:3", "21:9", "2k portrait", "854x480", "1920x1080"]), st.none(), _TEXT
    ),
    audio=st.one_of(st.none(), st.booleans()),
    seed=st.one_of(st.none(), st.integers()),
    last_frame=st.one_of(st.none(), st.booleans()),
    text=st.one_of(st.none(), _TEXT, st.sampled_from(["10 s vertical 1080p", "4:3 with audio", "first and last"])),
)
def test_any_wish_on_the_new_profiles_gets_a_legal_request(
    profile: str,
    model: str | None,
    seconds: int | float | str | None,
    size: str | None,
    audio: bool | None,
    seed: int | None,
    last_frame: bool | None,
    text: str | None,
) -> None:
    catalog = load_builtin(profile)
    wish = Wish(model=model, seconds=seconds, size=size, audio=audio, seed=seed, last_frame=last_frame, text=text)
    verdict = check(catalog, wish)
    assert verdict.request is not None and verdict.valid == (not verdict.errors)
    spec = catalog.find(verdict.request.model)
    assert spec is not None and spec.allows(verdict.request.seconds, verdict.request.size)
    assert (verdict.request.audio is not None) == spec.audio_optional
    assert verdict.request.seed is None or spec.seed
    assert verdict.request.last_frame is None or spec.last_frame
    for alt in verdict.alternatives:
        other = catalog.find(alt.model)
        assert other is not None and other.allows(alt.seconds, alt.size)
    assert len(verdict.model_dump_json()) < 20_000 and len(summarize(verdict)) < 5_000


@pytest.mark.anyio
async def test_validate_params_reads_the_new_axes_through_the_tool(sandbox_settings: Settings) -> None:
    settings = Settings.resolve(env={"SORA_MCP_PROFILE": "openrouter", "SORA_MCP_HOME": str(sandbox_settings.home)})
    async with Client(build_server(settings)) as client:
        result = await client.call_tool(
            "validate_params", {"model": "google/veo-3.1", "wish": "10 s vertical 1080p with audio", "seed": 5}
        )
        placeholders = await client.call_tool(
            "validate_params",
            {
                **PLACEHOLDERS,
                "model": "google/veo-3.1",
                "wish": "10 s vertical 1080p with audio",
                "seed": 5,
                "audio": False,
                "last_frame": False,
            },
        )
    assert not result.is_error and result.structured_content is not None
    request = result.structured_content["request"]
    assert (request["seconds"], request["size"], request["audio"], request["seed"]) == (8, "1080x1920", True, 5)
    assert request["estimated_cost_usd"] == pytest.approx(3.2)
    assert any(a["model"] == "alibaba/wan-2.6" for a in result.structured_content["alternatives"])
    assert placeholders.structured_content == result.structured_content
