"""Catalogs built from a provider's model listing (OpenRouter's `GET /api/v1/videos/models`): the shipped
2026-10-09 snapshot, a partly malformed listing, a generated 60-model listing, and a listing as a user file."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from sora_mcp.catalog import CatalogError, active_catalog, load_builtin, load_file
from sora_mcp.listing import Sku, catalog_from_listing, nominal_size
from sora_mcp.portable_schema import portability_problems
from sora_mcp.request_schema import create_video_schema

FETCHED = dt.datetime(2026, 10, 9, 20, 2, 55, 839033, tzinfo=dt.UTC)
RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9")
RESOLUTIONS = ("480p", "720p", "1080p", "4K")


def generated_listing(count: int = 60) -> dict[str, Any]:
    """A listing of `count` models that varies every axis the builder reads, unknown fields included."""
    models: list[dict[str, Any]] = []
    for i in range(count):
        durations = [d for d in range(2, 8 + i % 23) if (d + i) % (2 + i % 4) == 0] or [5]
        if i % 3 == 0:
            durations.reverse()  # listings may be unordered
        resolutions = list(RESOLUTIONS[i % 2 : i % 2 + 1 + i % 3])
        ratios = list(RATIOS[: 1 + i % len(RATIOS)])
        entry: dict[str, Any] = {
            "id": f"vendor{i % 7}/model-{i}",
            "canonical_slug": f"vendor{i % 7}/model-{i}-20261001",
            "name": f"Model {i}",
            "created": 1_790_000_000 + i,
            "supported_durations": durations,
            "supported_resolutions": resolutions,
            "supported_aspect_ratios": ratios,
            "supported_sizes": None,
            "supported_frame_images": [["first_frame"], ["first_frame", "last_frame"], [], None][i % 4],
            "generate_audio": [True, False, None][i % 3],
            "seed": [True, False, None, True][i % 4],
            "upscale_factor": None,
            "creativity": None,
            "allowed_passthrough_parameters": ["negative_prompt"],
            "input_modalities": ["text", "image"],
            "some_future_field": {"nested": [1, 2, 3]},
        }
        if i % 2 == 0:
            entry["supported_sizes"] = sorted(
                {str(nominal_size(r, a)) for r in resolutions for a in ratios}, key=lambda s: (len(s), s)
            )
        if i % 5 == 0:
            entry["pricing_skus"] = {"video_tokens": "0.000007"}
        elif i % 5 == 1:
            entry["pricing_skus"] = {"cents_per_video_output_second": str(5 + i % 4)}
        elif i % 5 == 2:
            entry["pricing_skus"] = {
                "duration_seconds_with_audio": "0.40",
                "duration_seconds_without_audio": "0.20",
                "duration_seconds_with_audio_4k": "0.60",
                "duration_seconds_without_audio_4k": "0.40",
            }
        elif i % 5 == 3:
            entry["pricing_skus"] = {f"duration_seconds_{r.lower()}": f"0.{i % 9 + 1}" for r in RESOLUTIONS}
        if i % 17 == 16:
            entry["supported_durations"] = None  # listed, not creatable
        models.append(entry)
    return {"data": models}


def test_the_shipped_snapshot_is_the_openrouter_profile() -> None:
    catalog = load_builtin("openrouter")
    assert catalog.dialect == "openrouter"
    assert catalog.fetched_at == FETCHED
    assert catalog.source is not None and "2026-10-09" in catalog.source
    assert catalog.warnings == ()
    assert len(catalog.models) == 18
    assert {m.id for m in catalog.listed_only} == {"heygen/avatar-iv", "runway/aleph-2"}
    assert all("no durations" in m.reason for m in catalog.listed_only)
    assert catalog.find("heygen/avatar-iv") is None and catalog.find_listed("HEYGEN/avatar-iv") is not None

    veo = catalog.find("google/veo-3.1")
    assert veo is not None
    assert veo.seconds == (4, 6, 8) and veo.duration_param == "duration" and veo.seconds_wire == "integer"
    assert set(veo.sizes) == {"1280x720", "1080x1920", "1920x1080", "720x1280", "3840x2160", "2160x3840"}
    assert veo.frames == {} and veo.frame("1280x720") is None  # listed sizes are sent as size
    assert veo.frame_images == ("first_frame", "last_frame") and veo.audio == "optional" and veo.seed
    assert veo.cost(8, "1280x720") == pytest.approx(1.6)
    assert veo.cost(8, "1280x720", audio=True) == pytest.approx(3.2)
    assert veo.cost(8, "3840x2160", audio=True) == pytest.approx(4.8)
    assert veo.cost(4, "2160x3840") == pytest.approx(1.6)

    lite = catalog.find("google/veo-3.1-lite")
    assert lite is not None and lite.seconds == (4, 6, 8)  # listed as [8, 4, 6]
    assert lite.frame("720x1280") is not None and lite.frame("720x1280").aspect_ratio == "9:16"  # type: ignore[union-attr]
    assert lite.cost(4, "1280x720") == pytest.approx(0.12) and lite.cost(4, "1920x1080", audio=True) == pytest.approx(
        0.32
    )

    kling = catalog.find("kwaivgi/kling-v3.0-pro")
    assert kling is not None and not kling.seed
    assert set(kling.sizes) == {"1280x720", "720x1280", "720x720"}  # its 1080p SKUs grant nothing
    assert kling.cost(10, "1280x720") == pytest.approx(1.12)
    assert kling.cost(10, "1280x720", audio=True) == pytest.approx(1.68)

    wan26 = catalog.find("alibaba/wan-2.6")
    assert wan26 is not None and not any("480" in s for s in wan26.sizes)  # a 480p SKU, no 480p resolution
    assert wan26.cost(10, "1920x1080") == pytest.approx(1.2)  # text-to-video price
    assert wan26.price_note is not None and "image-to-video" in wan26.price_note

    seedance = catalog.find("bytedance/seedance-2.0")
    assert seedance is not None and seedance.cost(5, "1280x720") is None
    assert seedance.price_note is not None and "token" in seedance.price_note

    runway = catalog.find("runway/gen-4.5")
    assert runway is not None and runway.cost(10, "1280x720") == pytest.approx(1.2)  # 12 cents per second
    assert runway.audio == "none" and runway.seed
    grok = catalog.find("x-ai/grok-imagine-video")
    assert grok is not None and grok.cost(10, "854x480") == pytest.approx(0.5) and not grok.seed
    hailuo = catalog.find("minimax/hailuo-2.3")
    assert hailuo is not None and hailuo.sizes == ("1920x1080",) and hailuo.audio == "none"
    assert hailuo.frame("1920x1080") is not None and hailuo.frame("1920x1080").resolution == "1080p"  # type: ignore[union-attr]
    for model in catalog:
        assert model.sources and "2026-10-09" in model.sources[0], model.id


def test_nominal_sizes_follow_the_listing_conventions() -> None:
    assert str(nominal_size("720p", "16:9")) == "1280x720"
    assert str(nominal_size("480p", "16:9")) == "854x480"
    assert str(nominal_size("4K", "21:9")) == "5040x2160"
    assert str(nominal_size("1080p", "3:4")) == "1080x1440"
    assert str(nominal_size("720p", "1:1")) == "720x720"


@pytest.mark.parametrize(
    ("key", "value", "unit", "usd", "resolution", "audio"),
    [
        ("duration_seconds_with_audio_4k", "0.60", "usd_per_second", 0.60, "4k", True),
        ("duration_seconds_without_audio", "0.20", "usd_per_second", 0.20, None, False),
        ("cents_per_video_output_second_720p", "7", "usd_per_second", 0.07, "720p", None),
        ("cents_per_second_output", "12", "usd_per_second", 0.12, None, None),
        ("video_tokens_1080p", "0.0000077", "usd_per_token", 0.0000077, "1080p", None),
        ("cents_per_image_input", "3", "other", 3.0, None, None),
        ("minimum_cents_per_generation", "10", "other", 10.0, None, None),
    ],
)
def test_sku_units_come_from_the_key_name(
    key: str, value: str, unit: str, usd: float, resolution: str | None, audio: bool | None
) -> None:
    sku = Sku.parse(key, value)
    assert (sku.unit, sku.resolution, sku.audio) == (unit, resolution, audio)
    assert sku.value == pytest.approx(usd)


def _good(model_id: str = "good/model", **overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": model_id,
        "supported_durations": [10, 5],
        "supported_resolutions": ["720p"],
        "supported_aspect_ratios": ["16:9", "9:16"],
        "supported_sizes": None,
        "supported_frame_images": ["first_frame"],
        "generate_audio": False,
        "seed": None,
        "pricing_skus": {"duration_seconds": "0.1"},
    }
    entry.update(overrides)
    return entry


def test_a_partly_malformed_listing_keeps_the_good_models(caplog: pytest.LogCaptureFixture) -> None:
    listing = {
        "data": [
            "not an object",
            {"supported_durations": [5]},
            _good("bad/durations", supported_durations=[5, "ten"]),
            _good("bad/negative", supported_durations=[-5]),
            _good("bad/boolean", supported_durations=[True]),
            _good("bad/size", supported_sizes=["1280by720"]),
            _good("bad/shape", supported_resolutions=None),
            _good("bad/ratio", supported_aspect_ratios=["wide"]),
            _good(),
            _good("GOOD/model"),
            _good("odd/prices", pricing_skus={"duration_seconds": "free", "cents_per_second": 10}),
            _good("null/model", supported_durations=None),
        ],
        "next_page": None,
    }
    with caplog.at_level(logging.WARNING, logger="sora_mcp.listing"):
        catalog = catalog_from_listing(listing, fetched_at=FETCHED, source="test listing")
    assert [m.id for m in catalog.models] == ["good/model", "odd/prices"]
    assert [m.id for m in catalog.listed_only] == ["null/model"]
    good = catalog.find("good/model")
    assert good is not None and good.seconds == (5, 10) and good.sizes == ("1280x720", "720x1280")
    odd = catalog.find("odd/prices")
    assert odd is not None and odd.cost(10, "1280x720") == pytest.approx(1.0)  # the usable SKU
    assert any("'free' is not a number" in s for s in odd.sources)
    expected = [
        "data[0] skipped: the entry is not an object",
        "data[1] skipped: the entry has no usable id",
        "data[2] (id 'bad/durations') skipped: supported_durations must be a list of whole numbers",
        "data[3] (id 'bad/negative') skipped: supported_durations must lie in 1..",
        "data[4] (id 'bad/boolean') skipped: supported_durations must be a list of whole numbers",
        "data[5] (id 'bad/size') skipped: supported_sizes: '1280by720' is not a size",
        "data[6] (id 'bad/shape') skipped: neither supported_sizes nor both",
        "data[7] (id 'bad/ratio') skipped: cannot size resolution '720p' at aspect ratio 'wide'",
        "data[9] (id 'GOOD/model') skipped: the id is listed twice",
    ]
    assert len(catalog.warnings) == len(expected)
    for warning, start in zip(catalog.warnings, expected, strict=True):
        assert warning.startswith(start), warning
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == len(expected) and all("test listing" in m for m in logged)


@pytest.mark.parametrize(
    ("listing", "expected"),
    [
        ({"data": "models"}, "must be an object with a 'data' list"),
        ({"models": []}, "must be an object with a 'data' list"),
        ({"data": []}, "the listing is empty"),
        ({"data": [{"id": "x/y", "supported_durations": None}]}, "no usable model"),
        ({"data": [_good(supported_durations=[0])]}, "supported_durations must lie"),
    ],
)
def test_a_listing_without_a_usable_model_is_refused(listing: object, expected: str) -> None:
    with pytest.raises(CatalogError, match=expected):
        catalog_from_listing(listing, fetched_at=None, source="test listing")


def test_a_huge_listing_builds_and_its_schema_is_exact() -> None:
    listing = generated_listing(60)
    catalog = catalog_from_listing(listing, fetched_at=FETCHED, source="generated listing")
    assert catalog.warnings == ()
    assert len(catalog.models) + len(catalog.listed_only) == 60 and len(catalog.listed_only) == 3
    schema = create_video_schema(catalog)
    assert portability_problems(schema) == []
    validator = jsonschema.Draft202012Validator(schema)
    for model in catalog:
        seconds, size = model.seconds[-1], model.sizes[-1]
        video: dict[str, object] = {"model": model.id, "seconds": str(seconds), "size": size}
        assert validator.is_valid({"prompt": "p", "video": video}), model.id
        assert validator.is_valid({"prompt": "p", "video": {**video, "audio": True}}) == model.audio_optional
        assert not validator.is_valid({"prompt": "p", "video": {**video, "seconds": str(seconds + 1000)}})


def test_a_user_catalog_file_may_be_a_listing(tmp_path: Path) -> None:
    path = tmp_path / "listing.json"
    document = {"fetched_at": "2026-11-30T08:00:00Z", **generated_listing(6)}
    path.write_text(json.dumps(document), encoding="utf-8")
    catalog = active_catalog("openai", path, base_url=None, azure_deployment=None, today=dt.date(2026, 12, 1))
    assert catalog.dialect == "openrouter" and len(catalog.models) == 6
    assert catalog.fetched_at == dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC)
    assert catalog.source is not None and str(path) in catalog.source
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"data": [{"id": "x", "supported_durations": [5]}]}), encoding="utf-8")
    with pytest.raises(CatalogError, match=rf"catalog file {broken}.*no usable model.*neither supported_sizes"):
        load_file(broken)
