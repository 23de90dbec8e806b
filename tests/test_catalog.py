from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from sora_mcp.catalog import BUILTIN_PROFILES, CatalogError, active_catalog, load_builtin, load_file

AFTER_RETIREMENT = dt.date(2026, 11, 21)
BEFORE_RETIREMENT = dt.date(2026, 9, 23)


def test_builtin_profiles_hold_the_contract_tables() -> None:
    openai = load_builtin("openai")
    sora2 = openai.find("sora-2")
    pro = openai.find("sora-2-pro")
    assert sora2 is not None and pro is not None
    assert sora2.seconds == (4, 8, 12)
    assert set(sora2.sizes) == {"720x1280", "1280x720"}
    assert set(sora2.aliases) == {"sora-2-2025-10-06", "sora-2-2025-12-08"}
    assert set(pro.sizes) == {"720x1280", "1280x720", "1024x1792", "1792x1024"}
    assert pro.cost(8, "1792x1024") == pytest.approx(4.0)
    assert pro.cost(4, "1280x720") == pytest.approx(1.2)
    assert sora2.seconds_wire == "string"
    assert sora2.extension is not None and sora2.extension.max_total_seconds == 120

    apiyi = load_builtin("apiyi")
    assert apiyi.find("sora-2").seconds == (4, 8, 12)  # type: ignore[union-attr]
    apiyi_pro = apiyi.find("sora-2-pro")
    assert apiyi_pro is not None
    assert apiyi_pro.seconds == (10, 15, 25) and apiyi_pro.default_seconds == 10
    assert apiyi_pro.audio == "synchronized"
    assert apiyi.find("sora-2").audio == "none"  # type: ignore[union-attr]

    azure = load_builtin("azure")
    [only] = azure.models
    assert set(only.sizes) == {"720x1280", "1280x720"} and only.deployment


def test_every_entry_names_its_sources() -> None:
    for profile in BUILTIN_PROFILES:
        for model in load_builtin(profile):
            assert model.sources, f"{profile}/{model.id} has no sources"


def test_retirement_applies_only_to_openais_own_endpoint() -> None:
    official = active_catalog(
        "openai", None, base_url="https://api.openai.com/v1", azure_deployment=None, today=AFTER_RETIREMENT
    )
    assert {m.status for m in official} == {"retired"}
    gateway = active_catalog(
        "openai", None, base_url="https://gateway.example/v1", azure_deployment=None, today=AFTER_RETIREMENT
    )
    assert {m.status for m in gateway} == {"active"}
    early = active_catalog(
        "openai", None, base_url="https://api.openai.com/v1", azure_deployment=None, today=BEFORE_RETIREMENT
    )
    assert {m.status for m in early} == {"active"}


def test_azure_model_takes_the_deployment_name() -> None:
    catalog = active_catalog("azure", None, base_url=None, azure_deployment="my-sora", today=AFTER_RETIREMENT)
    model = catalog.find("my-sora")
    assert model is not None and model.id == "my-sora"
    assert catalog.find("sora-2") is model  # the generic name still resolves


def test_unknown_profile_names_the_choices() -> None:
    with pytest.raises(CatalogError, match=r"unknown profile 'sora-3'.*openai, apiyi, azure"):
        load_builtin("sora-3")


def _entry(**overrides: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "id": "vid-1",
        "seconds": [5, 10],
        "sizes": ["1280x720"],
        "default_seconds": 5,
        "default_size": "1280x720",
        "audio": "none",
    }
    entry.update(overrides)
    return entry


def _write(tmp_path: Path, models: list[dict[str, object]]) -> Path:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"profile": "mine", "models": models}), encoding="utf-8")
    return path


def test_a_users_catalog_file_is_used(tmp_path: Path) -> None:
    path = _write(tmp_path, [_entry(seconds_wire="integer", price_per_second_usd={"1280x720": 0.05})])
    catalog = active_catalog("openai", path, base_url=None, azure_deployment=None, today=AFTER_RETIREMENT)
    assert catalog.profile == "mine"
    assert catalog.find("vid-1").cost(10, "1280x720") == pytest.approx(0.5)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("models", "expected"),
    [
        ([_entry(seconds=[5, "ten"])], r"models\[0\] \(id 'vid-1'\), field 'seconds.1'"),
        ([_entry(default_seconds=7)], r"models\[0\] \(id 'vid-1'\).*default_seconds 7 is not one of seconds"),
        ([_entry(sizes=["1280by720"], default_size="1280by720")], r"not a size of the form WIDTHxHEIGHT"),
        ([_entry(), _entry(aliases=["x"], id="vid-2"), _entry(id="vid-3", aliases=["vid-1"])], "used by both"),
        ([_entry(price_per_second_usd={"640x480": 1})], r"price_per_second_usd must price exactly the sizes"),
        ([_entry(colour="red")], r"field 'colour': Extra inputs are not permitted"),
        ([_entry(audio="loud")], r"field 'audio'"),
    ],
)
def test_a_bad_catalog_file_names_the_file_the_entry_and_the_field(
    tmp_path: Path, models: list[dict[str, object]], expected: str
) -> None:
    path = _write(tmp_path, models)
    with pytest.raises(CatalogError, match=expected) as info:
        load_file(path)
    assert str(path) in str(info.value)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot be read"):
        load_file(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"not valid JSON at line 1, column 2"):
        load_file(broken)


def test_the_new_profiles_and_azures_retirement() -> None:
    veo = load_builtin("apiyi-veo")
    assert veo.dialect == "new-api" and veo.source is not None
    full = veo.find("veo-3.1-generate-preview")
    fast = veo.find("veo-3.1-fast-generate-preview")
    assert full is not None and fast is not None
    assert full.seconds == (4, 6, 8) and full.audio == "always" and not full.seed
    assert full.allows(4, "1280x720") and full.allows(8, "3840x2160")
    assert not full.allows(4, "1920x1080") and not full.allows(6, "2160x3840")
    assert full.rectangles() == (
        ((4, 6, 8), ("1280x720", "720x1280")),
        ((8,), ("1920x1080", "1080x1920", "3840x2160", "2160x3840")),
    )
    assert full.frame("3840x2160") is not None and full.frame("3840x2160").resolution == "4k"  # type: ignore[union-attr]
    assert full.cost(4, "1280x720") == pytest.approx(1.2) and full.cost(8, "3840x2160", audio=True) == pytest.approx(
        1.2
    )
    assert fast.cost(8, "1920x1080") == pytest.approx(0.3)
    assert full.frame_images == ("first_frame",) and full.seconds_wire == "string"

    azure = active_catalog("azure", None, base_url=None, azure_deployment=None, today=AFTER_RETIREMENT)
    [sora] = azure.models
    assert sora.status == "retired" and sora.retirement is not None
    assert sora.retirement.date == dt.date(2026, 10, 15)
    assert any("retire" in s for s in sora.sources)
    before = active_catalog("azure", None, base_url=None, azure_deployment=None, today=dt.date(2026, 10, 14))
    assert before.models[0].status == "active"


def test_unconstrained_models_keep_their_single_rectangle_and_sora_defaults() -> None:
    for profile in ("openai", "apiyi", "azure"):
        catalog = load_builtin(profile)
        assert catalog.dialect == "openai" and catalog.fetched_at is None
        for model in catalog:
            assert model.rectangles() == ((model.seconds, model.sizes),)
            assert model.duration_param == "seconds" and model.frame_images == ("first_frame",)
            assert model.frames == {} and not model.seed and model.price_per_request_usd is None
            assert model.cost(8 if 8 in model.seconds else model.seconds[0], model.sizes[0], audio=True) == model.cost(
                8 if 8 in model.seconds else model.seconds[0], model.sizes[0]
            )


VEO_FRAMES = {
    "1280x720": {"resolution": "720p", "aspect_ratio": "16:9"},
    "1920x1080": {"resolution": "1080p", "aspect_ratio": "16:9"},
}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"combinations": [{"seconds": [5, 7], "sizes": ["1280x720"]}]},
            r"combinations\[0\] must be a subset.*unknown seconds \[7\]",
        ),
        ({"combinations": [{"seconds": [5], "sizes": ["1280x720"]}]}, r"leave seconds \[10\] and sizes \[\]"),
        ({"combinations": [{"seconds": [], "sizes": ["1280x720"]}]}, r"combinations.0.seconds"),
        (
            {
                "sizes": ["1280x720", "1920x1080"],
                "combinations": [{"seconds": [10], "sizes": ["1280x720"]}, {"seconds": [5], "sizes": ["1920x1080"]}],
            },
            r"the default request \(5 s, 1280x720\) is not in any combination",
        ),
        (
            {"sizes": ["1280x720", "1920x1080"], "frames": {"1280x720": VEO_FRAMES["1280x720"]}},
            r"frames must spell every size or none.*missing \['1920x1080'\]",
        ),
        (
            {"frames": {"1280x720": {"resolution": "720p", "aspect_ratio": "16:9"}, "640x360": VEO_FRAMES["1280x720"]}},
            r"extra \['640x360'\]",
        ),
        (
            {
                "sizes": ["1280x720", "1920x1080"],
                "frames": {"1280x720": VEO_FRAMES["1280x720"], "1920x1080": VEO_FRAMES["1280x720"]},
            },
            r"are both 720p 16:9",
        ),
        ({"frame_images": ["last_frame"]}, r"a last_frame needs a first_frame"),
        ({"frame_images": ["middle_frame"]}, r"field 'frame_images.0'"),
        ({"audio": "always", "price_per_second_with_audio_usd": {"1280x720": 0.2}}, r"needs audio 'optional'"),
        (
            {"audio": "optional", "price_per_second_with_audio_usd": {"640x480": 0.2}},
            r"price_per_second_with_audio_usd must price exactly the sizes",
        ),
        ({"price_per_request_usd": -1}, r"price_per_request_usd must not be negative"),
        ({"duration_param": "length"}, r"field 'duration_param'"),
    ],
)
def test_the_request_space_fields_are_checked(tmp_path: Path, overrides: dict[str, object], expected: str) -> None:
    path = _write(tmp_path, [_entry(**overrides)])
    with pytest.raises(CatalogError, match=expected):
        load_file(path)


def test_a_new_api_catalog_must_spell_every_size(tmp_path: Path) -> None:
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps({"profile": "gw", "dialect": "new-api", "models": [_entry()]}), encoding="utf-8")
    with pytest.raises(CatalogError, match=r"dialect new-api sends resolution \+ aspect ratio.*vid-1"):
        load_file(path)
    spelled = _entry(frames={"1280x720": VEO_FRAMES["1280x720"]})
    path.write_text(json.dumps({"profile": "gw", "dialect": "new-api", "models": [spelled]}), encoding="utf-8")
    assert load_file(path).models[0].frame("1280x720") is not None


def test_costs_follow_the_price_rules(tmp_path: Path) -> None:
    entry = _entry(
        sizes=["1280x720", "1920x1080"],
        audio="optional",
        price_per_second_usd={"1280x720": 0.1, "1920x1080": 0.2},
        price_per_second_with_audio_usd={"1280x720": 0.15, "1920x1080": 0.3},
    )
    model = load_file(_write(tmp_path, [entry])).models[0]
    assert model.cost(10, "1920x1080") == pytest.approx(2.0)
    assert model.cost(10, "1920x1080", audio=True) == pytest.approx(3.0)
    assert model.cost(10, "640x480") is None
    flat = load_file(_write(tmp_path, [_entry(price_per_request_usd=0.3)])).models[0]
    assert flat.cost(5, "1280x720") == flat.cost(10, "1280x720", audio=True) == pytest.approx(0.3)


def test_list_models_shows_the_request_space_source_and_age() -> None:
    from sora_mcp.tools.catalog_listing import describe_catalog

    now = dt.datetime(2026, 12, 1, 20, 2, 55, tzinfo=dt.UTC)
    text, result = describe_catalog(load_builtin("openrouter"), "sandbox", now)
    assert result.dialect == "openrouter" and result.fetched_at == "2026-10-09T20:02:55.839033+00:00"
    assert result.age_hours == pytest.approx(53 * 24, abs=0.1)
    assert "(53 days old)" in text and "2026-10-09" in text
    assert {m.id for m in result.listed_only} == {"heygen/avatar-iv", "runway/aleph-2"}
    assert "- runway/aleph-2: listed, not creatable: the listing gives no durations" in text
    models = {m.id: m for m in result.models}
    veo = models["google/veo-3.1"]
    assert veo.duration_param == "duration" and veo.seconds_wire == "integer"
    assert veo.audio == "optional" and veo.seed and veo.frame_images == ["first_frame", "last_frame"]
    assert {p.size: (p.usd_per_second, p.usd_per_second_with_audio) for p in veo.prices}["3840x2160"] == (0.4, 0.6)
    assert (
        "- google/veo-3.1: 4, 6, 8 s;" in text
        and "seed; first and last frame; $0.20-0.40/s (with audio $0.40-0.60/s)" in text
    )
    lite = {p.size: p for p in models["google/veo-3.1-lite"].prices}
    assert (lite["720x1280"].resolution, lite["720x1280"].aspect_ratio) == ("720p", "9:16")
    assert "price unknown (priced per video token" in text

    text, result = describe_catalog(load_builtin("apiyi-veo"), "sandbox", now)
    full = {m.id: m for m in result.models}["veo-3.1-generate-preview"]
    assert [(c.seconds, len(c.sizes)) for c in full.combinations] == [([4, 6, 8], 2), ([8], 4)]
    assert full.usd_per_request == pytest.approx(1.2) and result.age_hours is None
    assert "- veo-3.1-generate-preview: 4, 6, 8 s with 1280x720, 720x1280; 8 s with 1920x1080" in text
    assert "$1.20 per video" in text

    text, result = describe_catalog(load_builtin("openai"), "sandbox", now)
    assert "- sora-2: 4, 8, 12 s; 720x1280, 1280x720; audio always; $0.10/s" in text and "Source" not in text
