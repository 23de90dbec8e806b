"""Published schemas: legal-by-construction, portable to every client, and pinned by committed snapshots.

Regenerate the snapshots after an intended change with `UPDATE_SNAPSHOTS=1 pytest tests/test_schemas.py`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mcp import Client

from sora_mcp.catalog import BUILTIN_PROFILES, Catalog, active_catalog, all_known_sizes, load_builtin
from sora_mcp.portable_schema import make_portable, portability_problems
from sora_mcp.request_schema import create_video_schema, video_schema
from sora_mcp.runtime import Runtime
from sora_mcp.server import build_server
from sora_mcp.settings import Settings

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
ALL_SECONDS = ("1", "4", "5", "8", "10", "12", "15", "16", "20", "25", "30")
TODAY = dt.date(2026, 11, 21)


def _catalog(profile: str) -> Catalog:
    return active_catalog(profile, None, base_url=None, azure_deployment=None, today=TODAY)


def _all_model_names() -> list[str]:
    names = {n for p in BUILTIN_PROFILES for m in load_builtin(p) for n in m.names}
    return sorted(names | {"sora-1-turbo", "SORA-2", ""})


@pytest.mark.parametrize("profile", BUILTIN_PROFILES)
def test_video_schema_admits_exactly_the_legal_combinations(profile: str) -> None:
    catalog = _catalog(profile)
    validator = jsonschema.Draft202012Validator(create_video_schema(catalog))
    checked = 0
    for name, seconds, size in itertools.product(_all_model_names(), ALL_SECONDS, all_known_sizes()):
        model = catalog.find(name) if name == name.strip() and name in catalog.model_names else None
        legal = model is not None and model.allows(int(seconds), size)
        request = {"prompt": "a cat", "video": {"model": name, "seconds": seconds, "size": size}}
        assert validator.is_valid(request) == legal, (profile, name, seconds, size)
        if legal:
            as_integer = {"prompt": "a cat", "video": {"model": name, "seconds": int(seconds), "size": size}}
            assert not validator.is_valid(as_integer), "seconds must be a string on the schema"
        checked += 1
    assert checked == len(_all_model_names()) * len(ALL_SECONDS) * len(all_known_sizes())


def test_video_schema_rejects_missing_and_extra_fields() -> None:
    validator = jsonschema.Draft202012Validator(video_schema(_catalog("apiyi")))
    assert validator.is_valid({"model": "sora-2", "seconds": "4", "size": "1280x720"})
    assert not validator.is_valid({"model": "sora-2", "seconds": "4"})
    assert not validator.is_valid({"model": "sora-2", "seconds": "4", "size": "1280x720", "duration": "4"})


def test_a_single_rules_group_needs_no_anyof() -> None:
    schema = video_schema(_catalog("azure"))
    assert "anyOf" not in schema
    assert schema["properties"]["seconds"]["enum"] == ["4", "8", "12"]


async def _published(settings: Settings) -> dict[str, Any]:
    async with Client(build_server(settings)) as client:
        tools = (await client.list_tools()).tools
    return {t.name: {"input": t.input_schema, "output": t.output_schema} for t in tools}


@pytest.mark.anyio
@pytest.mark.parametrize("profile", BUILTIN_PROFILES)
async def test_every_published_schema_is_portable(profile: str, sandbox_settings: Settings) -> None:
    settings = Settings.resolve(env={"SORA_MCP_PROFILE": profile, "SORA_MCP_HOME": str(sandbox_settings.home)})
    published = await _published(settings)
    assert published
    for name, schemas in published.items():
        assert portability_problems(schemas["input"]) == [], name
        if schemas["output"] is not None:
            assert portability_problems(schemas["output"]) == [], name
    assert portability_problems(create_video_schema(_catalog(profile))) == []


def test_the_portability_check_catches_what_clients_reject() -> None:
    problems = portability_problems(
        {
            "type": "object",
            "oneOf": [{"type": "object"}],
            "properties": {
                "a": {"$ref": "#/$defs/A"},
                "b": {"type": "integer", "enum": [4, 8]},
                "c": {"type": "string", "format": "uri"},
                "d": {"description": "untyped"},
            },
        }
    )
    text = "\n".join(problems)
    for expected in (
        "top level: 'oneOf'",
        "'$ref' is not portable",
        "enum values must all be strings",
        "'format' is not portable",
        "properties.d: no 'type'",
        "additionalProperties: false",
    ):
        assert expected in text


def test_make_portable_rewrites_a_pydantic_discriminated_union() -> None:
    from typing import Annotated, Literal

    from pydantic import BaseModel, Field

    class A(BaseModel):
        kind: Literal["a"]
        seconds: Literal[4, 8]

    class B(BaseModel):
        kind: Literal["b"]
        note: str | None = None

    class Request(BaseModel):
        choice: Annotated[A | B, Field(discriminator="kind")]

    raw = Request.model_json_schema()
    assert "$defs" in raw and "oneOf" in json.dumps(raw)
    portable = make_portable(raw)
    assert portability_problems(portable) == []
    validator = jsonschema.Draft202012Validator(portable)
    assert validator.is_valid({"choice": {"kind": "a", "seconds": "4"}})
    assert not validator.is_valid({"choice": {"kind": "a", "seconds": "5"}})
    assert not validator.is_valid({"choice": {"kind": "c"}})


def _snapshot(name: str, value: Any) -> None:
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if UPDATE or not path.exists():
        if not UPDATE and os.environ.get("CI"):
            pytest.fail(f"snapshot {path.name} is missing; run UPDATE_SNAPSHOTS=1 pytest and commit it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text, (
        f"schema of {name} drifted from its snapshot; if intended, run UPDATE_SNAPSHOTS=1 pytest and commit"
    )


@pytest.mark.anyio
async def test_tool_schemas_match_their_snapshots(sandbox_settings: Settings) -> None:
    published = await _published(sandbox_settings)
    for name, schemas in sorted(published.items()):
        _snapshot(f"tools/{name}", schemas)
    for profile in BUILTIN_PROFILES:
        _snapshot(f"create_video_input/{profile}", create_video_schema(_catalog(profile)))


def test_runtime_catalog_follows_the_settings(sandbox_settings: Settings) -> None:
    runtime = Runtime.create(sandbox_settings, today=TODAY)
    assert runtime.catalog.profile == "apiyi"
    assert runtime.backend_label == "sandbox"
