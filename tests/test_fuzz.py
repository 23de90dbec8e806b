"""Fuzz every tool in both protocol eras through the real in-memory MCP client, against a sandbox-backed server.

Arguments come from two sources: the input schema each tool publishes in tools/list (enum values, legal
strings, numbers in range, the create_video combinations of its `anyOf`), with domain hints for ids, images
and prompts, and garbage (wrong types, unknown keys, huge and non-finite numbers, lone surrogates, deep
nesting, megabyte strings). Whatever comes in, a call must end as a result: never the SDK's bare
"Error executing tool ..." text; every error readable (a message, then the JSON object with its stage,
and no structuredContent) and none of stage "internal" (an exception nobody meant); every result
encodable as JSON (what stdio does with it); the server still answering afterwards; no call hanging.
bench/fuzz_tools.py runs the same fuzzer for longer and prints the figures.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import zlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client, MCPError
from mcp.types import CallToolResult, ListRootsResult, Root, TextContent

from sora_mcp.server import build_server
from sora_mcp.settings import Settings

ERAS: tuple[str, ...] = ("auto", "legacy")
"""`auto` speaks 2026-07-28 to an in-process server; `legacy` does the 2025-11-25 initialize handshake."""
TOOLS: tuple[str, ...] = (
    "list_models",
    "validate_params",
    "fit_reference_image",
    "create_video",
    "get_video_status",
    "list_videos",
    "download_video",
    "remix_video",
    "extend_video",
    "delete_video",
    "plan_long_video",
    "create_long_video",
)
PROFILES = {"auto": "apiyi", "legacy": "openai"}
"""A catalog per era, so both get fuzzed: apiyi (integer seconds, 25 s pro), openai (string seconds, extensions)."""
HANG_SECONDS = 60.0
"""A hang detector, not a performance bound: tools bound themselves at 45-55 s."""
BARE_PREFIX = "Error executing tool"
SURROGATES = ("\ud800", "\udfff", "a\ud83d", "\udc00b")

Json = Any
Kind = Literal[
    "ok", "error", "internal", "unshaped", "bare", "unreadable", "unencodable", "protocol", "client", "hang", "death"
]
"""ok, error (readable, shaped), and what must not happen: internal (a caught unexpected exception),
unshaped (an error without the JSON block, or with structuredContent), bare (the SDK's own text), unreadable
(no text), unencodable (not writable as JSON), protocol (MCPError), client (anything else raised), hang,
death (list_models stopped answering)."""


# The server under fuzz.


def fuzz_settings(home: Path, profile: str) -> Settings:
    """The `sandbox_settings` fixture's settings, with fast sandbox jobs and a small budget (fewer renders)."""
    return Settings.resolve(
        env={
            "SORA_MCP_PROFILE": profile,
            "SORA_MCP_HOME": str(home / "sora-home"),
            "SORA_MCP_OUTPUT_DIR": str(home / "out"),
            "SORA_MCP_ALLOWED_DIRS": str(home),
            "SORA_MCP_SANDBOX_TIME_SCALE": "0.01",
            "SORA_MCP_DAILY_BUDGET_USD": "12",
            "SORA_MCP_SANDBOX_DAILY_BUDGET_USD": "12",
        },
        user_home=home,
    )


def tiny_png(width: int = 8, height: int = 6) -> bytes:
    """A valid RGB PNG without Pillow, for image arguments."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    rows = b"".join(b"\x00" + bytes([200, 40, 40]) * width for _ in range(height))
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@dataclass
class Hints:
    """Values the schema cannot know: real ids, real image paths, a data URL."""

    video_ids: list[str] = field(default_factory=lambda: ["video_does_not_exist", "job_1"])
    images: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    text: str = ""

    @property
    def failed(self) -> bool:
        return self.kind not in ("ok", "error")


def classify(result: CallToolResult) -> Outcome:
    texts = [b.text for b in result.content if isinstance(b, TextContent)]
    first = texts[0] if texts else ""
    try:  # what stdio and HTTP do with a result; the in-memory transport never encodes it
        result.model_dump_json(by_alias=True, exclude_unset=True)
    except ValueError as exc:  # lone surrogates echoed back, for one
        return Outcome("unencodable", f"{type(exc).__name__}: {exc}"[:300])
    if first.startswith(BARE_PREFIX):
        return Outcome("bare", first)
    if result.is_error:
        if not first.strip():
            return Outcome("unreadable", repr(result.content)[:300])
        info = _error_info(texts)
        if info is None or result.structured_content is not None:
            return Outcome("unshaped", first)
        return Outcome("internal", first) if info.get("stage") == "internal" else Outcome("error", first)
    return Outcome("ok", first)


def _error_info(texts: list[str]) -> dict[str, Json] | None:
    """An error result's second text block: a JSON object with at least `stage` and `message`."""
    if len(texts) < 2:
        return None
    try:
        data = json.loads(texts[1])
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("stage"), str) or not data.get("message"):
        return None
    return data


class FuzzSession:
    """One server and one client in one protocol era, driven from synchronous code through a blocking portal."""

    def __init__(self, home: Path, mode: str) -> None:
        self.home = home
        self.mode = mode
        self.hints = Hints()
        self._stack: list[AbstractContextManager[Any]] = []
        self._portal: BlockingPortal | None = None
        self._client: Client | None = None
        self.schemas: dict[str, Json] = {}

    def __enter__(self) -> FuzzSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        photo = self.home / "photo.png"
        photo.write_bytes(tiny_png())
        data_url = "data:image/png;base64," + base64.b64encode(tiny_png(4, 4)).decode()
        self.hints.images = [str(photo), "photo.png", data_url, str(self.home / "missing.png"), "/etc/passwd"]
        server = build_server(fuzz_settings(self.home, PROFILES.get(self.mode, "apiyi")))
        roots = ListRootsResult(roots=[Root(uri=self.home.as_uri(), name="home")])  # type: ignore[arg-type]

        async def list_roots(context: object) -> ListRootsResult:
            return roots

        portal_cm = start_blocking_portal()
        self._portal = portal_cm.__enter__()
        self._stack.append(portal_cm)
        client_cm = self._portal.wrap_async_context_manager(
            Client(server, mode=self.mode, list_roots_callback=list_roots)
        )
        self._client = client_cm.__enter__()
        self._stack.append(client_cm)
        listed = self._portal.call(self._client.list_tools)
        self.schemas = {tool.name: tool.input_schema for tool in listed.tools}
        made = self._portal.call(
            self._client.call_tool,
            "create_video",
            {"prompt": "a kite", "video": {"model": "sora-2", "seconds": "4", "size": "1280x720"}, "wait_seconds": 20},
        )
        job = made.structured_content or {}
        if not made.is_error and isinstance(job.get("video_id"), str):  # something real for get/remix/extend/delete
            self.hints.video_ids.insert(0, job["video_id"])

    def stop(self) -> None:
        while self._stack:
            with contextlib.suppress(Exception):  # a dead session may not close cleanly; the next start is fresh
                self._stack.pop().__exit__(None, None, None)
        self._client = self._portal = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def call(self, name: str, arguments: dict[str, Json]) -> Outcome:
        assert self._portal is not None
        try:
            return self._portal.call(self._call, name, arguments)
        except Exception as exc:  # the client raised something that is not a protocol error, or the session broke
            return Outcome("client", f"{type(exc).__name__}: {exc}"[:300])

    async def _call(self, name: str, arguments: dict[str, Json]) -> Outcome:
        assert self._client is not None
        try:
            with anyio.fail_after(HANG_SECONDS):
                result = await self._client.call_tool(name, arguments)
        except TimeoutError:
            return Outcome("hang", f"{name} did not answer within {HANG_SECONDS:.0f} s")
        except MCPError as exc:
            return Outcome("protocol", f"{type(exc).__name__}: {exc}"[:300])
        return classify(result)

    def alive(self) -> bool:
        """Does the server still answer list_models after whatever came before?"""
        return self.call("list_models", {}).kind == "ok"


# Arguments from the published schema.


def _text(min_size: int = 0, max_size: int = 40) -> st.SearchStrategy[str]:
    return st.text(st.characters(codec="utf-8"), min_size=min_size, max_size=max_size)


_PROMPTS = st.sampled_from(["a red kite over the sea", "a cat [blocked]", "x", "slow dolly in, warm light"])
_WAITS = st.sampled_from([0, 0, 0, 0.01, 0.05])
_SIZES = st.sampled_from(["1280x720", "720x1280", "1792x1024", "1920x1080", "720p landscape", "portrait", "000p"])
_MODELS = st.sampled_from(["sora-2", "sora-2-pro", "sora-2-2025-12-08", "sora-3", ""])
_SECONDS: st.SearchStrategy[Json] = st.sampled_from([4, 8, "12", "10s", 15, 25, 0, "", 7.5])


def _hinted(name: str, schema: Json, hints: Hints) -> st.SearchStrategy[Json] | None:
    """Realistic values for arguments whose meaning the schema does not carry."""
    if name == "video_id":
        return st.sampled_from(tuple(hints.video_ids)) | _text(max_size=12)  # a snapshot: restarts add ids
    if name in ("image", "reference_image") and hints.images:
        return st.sampled_from(tuple(hints.images))
    if name == "wait_seconds":
        return _WAITS
    if name == "prompt":
        return _PROMPTS
    if name == "background":
        return st.sampled_from(["#000000", "#ffffff", "#12ab9z", "red", ""])
    if name == "quality":  # published without bounds: the extremes are schema-valid
        return st.integers(-5, 120) | st.sampled_from([10**500, 10**5000])
    if name == "seconds" and schema.get("type") == "integer":
        return st.integers(int(schema.get("minimum", 0)), 30)
    if name in ("model", "size", "seconds", "duration") and "enum" not in schema:
        loose = {"model": _MODELS, "size": _SIZES, "seconds": _SECONDS, "duration": _SECONDS}
        return loose[name]
    if name == "variant":
        return st.sampled_from(["video", "thumbnail", "spritesheet", "mp4"])
    return None


def from_schema(schema: Json, hints: Hints, name: str = "", depth: int = 0) -> st.SearchStrategy[Json]:
    """A strategy for values that (mostly) satisfy `schema`, in the portable subset tools/list publishes."""
    if not isinstance(schema, dict) or depth > 6:
        return st.none()
    hinted = _hinted(name, schema, hints)
    if hinted is not None:
        return hinted
    if "enum" in schema:
        return st.sampled_from(list(schema["enum"]))
    if "anyOf" in schema and schema.get("type") != "object":
        return st.one_of([from_schema(branch, hints, name, depth + 1) for branch in schema["anyOf"]])
    if "anyOf" in schema:  # an object whose branches each spell one legal group (create_video's video)
        return st.one_of([from_schema(branch, hints, name, depth + 1) for branch in schema["anyOf"]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}, hints, name, depth + 1) for k in kind])
    if kind == "object" or "properties" in schema:
        properties: dict[str, Json] = schema.get("properties", {})
        # Always drawn: left out, wait_seconds means 30 s of waiting for a render, which would make calls slow.
        required = [k for k in properties if k in schema.get("required", []) or k == "wait_seconds"]
        strategies = {k: from_schema(v, hints, k, depth + 1) for k, v in properties.items()}
        return st.fixed_dictionaries(
            {k: strategies[k] for k in required}, optional={k: s for k, s in strategies.items() if k not in required}
        )
    if kind == "string":
        low = int(schema.get("minLength", 0))
        return _text(low, max(low, min(int(schema.get("maxLength", 40)), 40)))
    if kind in ("integer", "number"):  # in range, plus the extremes an unbounded side allows (still schema-valid)
        lo: Json = schema.get("minimum")
        hi: Json = schema.get("maximum")
        extremes = [v for v in (10**5000, 10**500, 2**63, 1e308) if hi is None and (lo is None or v >= lo)]
        extremes += [v for v in (-(10**500), -(2**63) - 1, -1e308) if lo is None and (hi is None or v <= hi)]
        if kind == "integer":
            extremes = [v for v in extremes if isinstance(v, int)]
            lo_i = int(lo) if lo is not None else -1000
            inside: st.SearchStrategy[Json] = st.integers(lo_i, int(hi) if hi is not None else max(lo_i, 1000))
        else:
            lo_f = float(lo) if lo is not None else -1e6
            inside = st.floats(lo_f, float(hi) if hi is not None else max(lo_f, 1e6), allow_nan=False)
        return inside | st.sampled_from(extremes) if extremes else inside
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), hints, name, depth + 1), max_size=4)
    if kind == "null":
        return st.none()
    return st.none()


# Garbage.


def _nested(depth: int) -> Json:
    value: Json = "bottom"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


_HUGE_NUMBERS = st.sampled_from([10**500, -(10**500), 10**5000, 2**63, -(2**63) - 1, 1e308, -1e308, 5e-324])
_SCALARS: st.SearchStrategy[Json] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    _HUGE_NUMBERS,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(codec=None), max_size=30),  # lone surrogates included
    st.sampled_from([*SURROGATES, "", " ", "0", "-1", "null", "NaN", "1e999", "../../etc/passwd", "000p"]),
    st.integers(1000, 1_000_000).map(lambda n: "x" * n),
    st.integers(1000, 200_000).map(lambda n: "1" + " " * n + "s"),
)
GARBAGE: st.SearchStrategy[Json] = st.one_of(
    _SCALARS,
    st.lists(_SCALARS, max_size=5),
    st.dictionaries(st.text(max_size=8), _SCALARS, max_size=4),
    st.integers(1, 200).map(_nested),  # the client itself refuses to serialise more than about 250 levels
)


def garbage_arguments(schema: Json, hints: Hints) -> st.SearchStrategy[dict[str, Json]]:
    """Start from schema-ish arguments, then break some: wrong values, unknown keys, dropped required keys."""
    properties: dict[str, Json] = schema.get("properties", {}) if isinstance(schema, dict) else {}
    names = sorted(properties)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Json]:
        base: dict[str, Json] = draw(from_schema(schema, hints)) or {}
        arguments = dict(base) if isinstance(base, dict) else {}
        broken: list[str] = draw(st.lists(st.sampled_from(names), max_size=3, unique=True)) if names else []
        for key in broken:
            arguments[key] = draw(GARBAGE)
        nested: bool = draw(st.booleans())
        if names and nested:  # garbage inside nested objects too (video, crop)
            key = draw(st.sampled_from(names))
            inner = arguments.get(key)
            if isinstance(inner, dict) and inner:
                inner[draw(st.sampled_from(sorted(inner)))] = draw(GARBAGE)
        for _ in range(draw(st.integers(0, 2))):
            arguments[draw(st.text(st.characters(codec=None), max_size=12) | st.sampled_from(SURROGATES))] = draw(
                GARBAGE
            )
        if arguments and draw(st.integers(0, 4)) == 0:
            del arguments[draw(st.sampled_from(sorted(arguments)))]
        return arguments

    return build()


class Case:
    """One argument object, shown shortened when hypothesis reports it (a 5000-digit number prints as its size)."""

    __slots__ = ("arguments",)

    def __init__(self, arguments: dict[str, Json]) -> None:
        self.arguments = arguments

    def __repr__(self) -> str:
        return f"Case({describe(self.arguments, 2000)})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def arguments_for(session: FuzzSession, tool: str) -> st.SearchStrategy[Case]:
    schema = session.schemas[tool]
    valid: st.SearchStrategy[dict[str, Json]] = from_schema(schema, session.hints).map(
        lambda value: value if isinstance(value, dict) else {}
    )
    return (valid | garbage_arguments(schema, session.hints)).map(Case)


def describe(arguments: Json, limit: int = 300) -> str:
    """A short, printable picture of a (possibly huge or surrogate-laden) argument object."""

    def shrink(value: Json, depth: int = 0) -> Json:
        if depth > 4:
            return "…"
        if isinstance(value, dict):
            return {shrink(k, depth + 1): shrink(v, depth + 1) for k, v in list(value.items())[:6]}
        if isinstance(value, list):
            return [shrink(v, depth + 1) for v in value[:4]]
        if isinstance(value, str):
            clean = value.encode("utf-8", "backslashreplace").decode("utf-8")
            return clean if len(clean) <= 40 else f"{clean[:20]}…({len(clean)} chars)"
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
            return f"<{int(math.log10(abs(value))) + 1}-digit int>"
        return value

    text = repr(shrink(arguments))
    return text if len(text) <= limit else text[:limit] + "…"


# The test.


@contextmanager
def _session(home: Path, mode: str) -> Iterator[FuzzSession]:
    with FuzzSession(home, mode) as session:
        yield session


@pytest.fixture(scope="module", params=ERAS)
def fuzz_session(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzSession]:
    """One sandbox-backed server per era for the whole module (built once: the fuzz stays fast)."""
    with _session(tmp_path_factory.mktemp(f"fuzz-{request.param}"), str(request.param)) as session:
        yield session


EXAMPLES_PER_TOOL_AND_ERA = 75


@pytest.mark.parametrize("tool", TOOLS)
def test_no_tool_call_escapes_as_a_bare_error(fuzz_session: FuzzSession, tool: str) -> None:
    session = fuzz_session
    assert tool in session.schemas, f"{tool} is not listed in the {session.mode} era"

    @settings(
        max_examples=EXAMPLES_PER_TOOL_AND_ERA,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(case=arguments_for(session, tool))
    def fuzz(case: Case) -> None:
        outcome = session.call(tool, case.arguments)
        if not session.alive():
            outcome = Outcome("death", f"list_models stopped answering after: {outcome.kind} {outcome.text[:200]}")
        if outcome.kind == "death":
            session.restart()
        assert not outcome.failed, f"{outcome.kind}: {case!r} -> {outcome.text[:300]}"

    fuzz()
