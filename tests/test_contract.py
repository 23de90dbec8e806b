"""The server accepts a tool's arguments if and only if a Draft 2020-12 validator accepts them against the
schema `tools/list` publishes: one contract, enforced where it is published, in every built-in profile.

Argument sets are drawn from each published schema (valid ones) and then mutated (a required key dropped,
an unknown key added, a value of the wrong type, a number out of range, a near-miss such as "8s" for "8").
An argument-stage refusal says `"stage": "arguments"`; later refusals (a missing image file, the budget)
say another stage, so the two are told apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from mcp import Client
from mcp.types import CallToolResult, TextContent

from sora_mcp.server import build_server
from sora_mcp.settings import Settings

PROFILES = ("openai", "apiyi", "azure")
CHECKED: dict[str, int] = {"accepted": 0, "refused": 0}

Json = Any


def _text_blocks(result: CallToolResult) -> list[str]:
    return [b.text for b in result.content if isinstance(b, TextContent)]


def refused_at_arguments(result: CallToolResult) -> bool:
    if not result.is_error:
        return False
    blocks = _text_blocks(result)
    assert len(blocks) == 2, blocks  # every error: readable text, then the same as JSON
    return bool(json.loads(blocks[1])["stage"] == "arguments")


def _value(schema: dict[str, Any]) -> st.SearchStrategy[Json]:
    """Values the schema admits (mostly), from its enum, type and bounds."""
    if "anyOf" in schema and "properties" not in schema:
        return st.one_of(*[_value(s) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        return _object(schema)
    if kind == "string":
        return st.one_of(st.sampled_from(["", "x", "video_123", "1280x720", "720p landscape"]), st.text(max_size=12))
    if kind == "integer":
        low, high = schema.get("minimum", -5), schema.get("maximum", 10_000)
        return st.integers(min_value=int(low), max_value=int(high))
    if kind == "number":
        low, high = schema.get("minimum", -5), schema.get("maximum", 100)
        return st.floats(min_value=float(low), max_value=float(high), allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(_value(schema.get("items", {})), max_size=2)
    return st.none()


@st.composite
def _object(draw: st.DrawFn, schema: dict[str, Any]) -> dict[str, Json]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    if "anyOf" in schema:  # a legal combination: one branch's values, merged with the outer descriptions
        branch = draw(st.sampled_from(schema["anyOf"]))
        properties = {**properties, **branch.get("properties", {})}
    out: dict[str, Json] = {}
    for name, sub in properties.items():
        if name in required or draw(st.booleans()):
            out[name] = draw(_value(sub))
    return out


_WRONG = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from(["8s", "4.0", " 8", "1280X720", "SORA-2", "cover ", "gif"]),
)


@st.composite
def arguments(draw: st.DrawFn, schema: dict[str, Any]) -> dict[str, Json]:
    args = draw(_object(schema))
    mutation = draw(st.sampled_from(["none", "none", "drop", "extra", "wrong", "nested"]))
    if mutation == "drop" and args:
        args.pop(draw(st.sampled_from(sorted(args))))
    elif mutation == "extra":
        args[draw(st.sampled_from(["n", "extra", "seconds", "video_id", "Prompt"]))] = draw(_WRONG)
    elif mutation == "wrong" and args:
        args[draw(st.sampled_from(sorted(args)))] = draw(_WRONG)
    elif mutation == "nested" and isinstance(args.get("video"), dict) and args["video"]:
        video = dict(args["video"])
        video[draw(st.sampled_from([*sorted(video), "n"]))] = draw(_WRONG)
        args["video"] = video
    if isinstance(args.get("wait_seconds"), int | float) and 0 <= args["wait_seconds"] <= 45:
        args["wait_seconds"] = 0  # legal either way; no example waits for a render
    return args


@contextmanager
def running(profile: str, home: Path) -> Iterator[tuple[BlockingPortal, Client, dict[str, dict[str, Any]]]]:
    """One server for the whole property run, driven from hypothesis' synchronous examples via a portal."""
    settings_ = Settings.resolve(
        env={
            "SORA_MCP_PROFILE": profile,
            "SORA_MCP_HOME": str(home / "data"),
            "SORA_MCP_OUTPUT_DIR": str(home / "out"),
            "SORA_MCP_ALLOWED_DIRS": str(home / "images"),
            "SORA_MCP_SANDBOX_TIME_SCALE": "0.01",
            "SORA_MCP_SANDBOX_DAILY_BUDGET_USD": "1000000",
        },
        user_home=home,
    )
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Client(build_server(settings_))) as client,
    ):
        listed = portal.call(client.list_tools)
        yield portal, client, {t.name: t.input_schema for t in listed.tools}


@pytest.mark.slow
@pytest.mark.parametrize("profile", PROFILES)
def test_accepted_if_and_only_if_the_published_schema_admits(profile: str, tmp_path: Path) -> None:
    with running(profile, tmp_path) as (portal, client, schemas):
        assert len(schemas) == 12
        validators = {name: Draft202012Validator(schema) for name, schema in schemas.items()}

        @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        @given(data=st.data())
        def check(data: st.DataObject) -> None:
            name = data.draw(st.sampled_from(sorted(schemas)))
            args = data.draw(arguments(schemas[name]))
            admitted = validators[name].is_valid(args)
            result = portal.call(client.call_tool, name, args)
            refused = refused_at_arguments(result)
            assert refused is not admitted, (name, args, _text_blocks(result))
            CHECKED["refused" if refused else "accepted"] += 1

        check()
    assert CHECKED["accepted"] > 50 and CHECKED["refused"] > 50, CHECKED


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("video", "param", "hint"),
    [
        ({"model": "sora-2", "seconds": "8s", "size": "1280x720"}, "video.seconds", "'8'"),
        ({"model": "sora-2", "seconds": "4.0", "size": "1280x720"}, "video.seconds", "'4'"),
        ({"model": "sora-2", "seconds": 4, "size": "1280x720"}, "video.seconds", "expected one of '4', '8', or '12'"),
        ({"model": "sora-2", "seconds": "10", "size": "1280x720"}, "video.seconds", "'4', '8', and '12'"),
    ],
)
async def test_no_lenient_guessing_but_the_exact_fix(
    video: dict[str, Any], param: str, hint: str, sandbox_settings: Settings
) -> None:
    async with Client(build_server(sandbox_settings)) as client:
        result = await client.call_tool("create_video", {"prompt": "a fox", "video": video, "wait_seconds": 0})
        listed = await client.call_tool("list_videos", {})
    blocks = _text_blocks(result)
    error = json.loads(blocks[1])
    assert error["stage"] == "arguments" and error["param"] == param
    assert hint in blocks[0]
    assert error["nearest_request"]["model"] == "sora-2" and error["nearest_request"]["seconds"] in ("4", "8", "12")
    assert "Fix:" in blocks[0]
    assert listed.structured_content is not None and listed.structured_content["jobs"] == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("tool", "args", "param", "code"),
    [
        ("create_video", {"prompt": "x", "video": {}, "n": 2}, "n", "unknown_parameter"),
        ("get_video_status", {"video_id": "v", "wait_seconds": 99}, "wait_seconds", "invalid_value"),
        ("download_video", {"video_id": "v", "variant": "gif"}, "variant", "invalid_value"),
        ("list_videos", {"limit": 500}, "limit", "invalid_value"),
        ("list_videos", {"limit": "20"}, "limit", "invalid_type"),
        ("get_video_status", {}, "video_id", "missing_required_parameter"),
    ],
)
async def test_argument_errors_name_the_parameter_and_the_legal_values(
    tool: str, args: dict[str, Any], param: str, code: str, sandbox_settings: Settings
) -> None:
    async with Client(build_server(sandbox_settings), mode="legacy") as client:
        result = await client.call_tool(tool, args)
    blocks = _text_blocks(result)
    error = json.loads(blocks[1])
    assert (error["stage"], error["param"], error["code"]) == ("arguments", param, code), error
    assert "validation error" not in blocks[0] and "Arguments" not in blocks[0]  # no raw pydantic text
    if tool == "download_video":
        assert error["legal_values"] == ["video", "thumbnail", "spritesheet"]
