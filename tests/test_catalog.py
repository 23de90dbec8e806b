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
