from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sora_mcp.catalog import active_catalog, load_builtin
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


@pytest.mark.parametrize("seconds", ["ten", "", "-4", 0, 7.5])
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
