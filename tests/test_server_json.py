"""server.json must be publishable: registry schema, versions in step with pyproject, honest env vars."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from sora_mcp.settings import OPTIONS

ROOT = Path(__file__).resolve().parents[1]


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def server_json() -> dict[str, Any]:
    return _load(ROOT / "server.json")  # type: ignore[no-any-return]


def test_server_json_matches_the_registry_schema(server_json: dict[str, Any]) -> None:
    schema = _load(ROOT / "tests" / "data" / "server.schema.2025-12-11.json")
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(server_json), key=lambda e: list(e.path))
    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors]
    assert server_json["$schema"].endswith("/2025-12-11/server.schema.json")


def test_schema_copy_rejects_what_the_registry_rejects(server_json: dict[str, Any]) -> None:
    schema = _load(ROOT / "tests" / "data" / "server.schema.2025-12-11.json")
    broken = {**server_json, "description": "x" * 101, "name": "no-slash"}
    assert not jsonschema.Draft202012Validator(schema).is_valid(broken)
    latest = json.loads(json.dumps(server_json))
    latest["packages"][0]["version"] = "latest"
    assert not jsonschema.Draft202012Validator(schema).is_valid(latest)


def test_versions_agree(server_json: dict[str, Any]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert server_json["version"] == project["version"]
    [package] = server_json["packages"]
    assert package["version"] == project["version"]
    assert package["identifier"] == project["name"]
    assert package["registryType"] == "pypi"
    assert package["runtimeHint"] == "uvx"
    assert package["transport"] == {"type": "stdio"}


def test_name_and_readme_marker(server_json: dict[str, Any]) -> None:
    assert server_json["name"].startswith("io.github.")
    assert server_json["name"].endswith("/sora-mcp")
    assert len(server_json["description"]) <= 100
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"mcp-name: {server_json['name']}" in readme


def test_environment_variables_are_real_settings(server_json: dict[str, Any]) -> None:
    known = {o.env: o for o in OPTIONS}
    variables = server_json["packages"][0]["environmentVariables"]
    for variable in variables:
        assert variable["name"] in known, f"{variable['name']} is not a setting sora-mcp reads"
        assert variable["isSecret"] == known[variable["name"]].secret
    names = {v["name"] for v in variables}
    assert {"OPENAI_API_KEY", "OPENAI_BASE_URL", "SORA_MCP_PROFILE", "SORA_MCP_OUTPUT_DIR"} <= names
    assert "SORA_MCP_DAILY_BUDGET_USD" in names
    key = next(v for v in variables if v["name"] == "OPENAI_API_KEY")
    assert key["isSecret"] is True
    assert key["isRequired"] is False  # the offline sandbox runs without one


def test_the_registry_entry_and_the_claude_desktop_bundle_say_the_same(server_json: dict[str, Any]) -> None:
    manifest = _load(ROOT / "mcpb" / "manifest.json")
    assert manifest["version"] == server_json["version"] == server_json["packages"][0]["version"]
    assert manifest["description"] == server_json["description"]
    assert manifest["display_name"] == server_json["title"]
    assert manifest["repository"]["url"] == server_json["repository"]["url"]
    bundle_env = set(manifest["server"]["mcp_config"]["env"])
    registry_env = {v["name"] for v in server_json["packages"][0]["environmentVariables"]}
    assert bundle_env <= registry_env, bundle_env - registry_env
