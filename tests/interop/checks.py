"""Assertions on tool outcomes as a client reported them, shared by every client's tests.

An outcome is the driver's JSON for one call: `isError`, `texts` (the text blocks), `structured`
(structuredContent) and `thrown` (the message of an exception the client raised instead of returning).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

ERROR_STAGES = frozenset({"arguments", "request", "image", "budget", "provider", "job", "storage", "internal"})


def show(outcome: Mapping[str, Any]) -> str:
    return json.dumps(outcome, indent=1)[:3000]


def assert_success(outcome: Mapping[str, Any]) -> dict[str, Any]:
    """The call returned a normal result with structured content; returns that content."""
    assert outcome.get("thrown") is None, f"the client threw instead of returning a result: {outcome['thrown']}"
    assert outcome.get("isError") is False, f"expected a success, got an error result:\n{show(outcome)}"
    structured = outcome.get("structured")
    assert isinstance(structured, dict), f"a success without structuredContent:\n{show(outcome)}"
    return structured


def error_info(outcome: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON block (content[1]) of an error result."""
    texts = outcome.get("texts") or []
    assert len(texts) >= 2, f"an error result needs a text block and a JSON block, got {len(texts)}:\n{show(outcome)}"
    try:
        info = json.loads(texts[1])
    except json.JSONDecodeError:
        raise AssertionError(f"content[1] of an error result is not JSON:\n{show(outcome)}") from None
    assert isinstance(info, dict), f"content[1] is not a JSON object:\n{show(outcome)}"
    return info


def assert_tool_error(
    outcome: Mapping[str, Any], *needles: str, stages: Collection[str] | None = None
) -> dict[str, Any]:
    """The host received an `isError` result whose text an agent can act on (and never a thrown -32602).

    Every needle must occur (case-insensitively) in content[0]; content[1] is the same problem as JSON with
    a `stage` among `stages`. Returns that JSON.
    """
    thrown = outcome.get("thrown")
    assert thrown is None, f"the client threw instead of delivering the error text: {thrown}"
    assert outcome.get("isError") is True, f"expected an isError result:\n{show(outcome)}"
    assert outcome.get("structured") is None, f"an error result must carry no structuredContent:\n{show(outcome)}"
    texts = outcome.get("texts") or []
    assert texts and texts[0].strip(), f"an error result without text:\n{show(outcome)}"
    text = texts[0].lower()
    missing = [n for n in needles if n.lower() not in text]
    assert not missing, f"error text lacks {missing}: {texts[0]!r}"
    info = error_info(outcome)
    assert info.get("stage") in ERROR_STAGES, f"unknown stage {info.get('stage')!r}:\n{show(outcome)}"
    if stages is not None:
        assert info["stage"] in stages, f"stage {info['stage']!r}, expected one of {sorted(stages)}"
    assert isinstance(info.get("message"), str) and info["message"] in texts[0], "JSON message differs from the text"
    return info
