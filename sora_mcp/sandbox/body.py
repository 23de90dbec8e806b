"""Request bodies as one nested mapping, whether they came as JSON or as a multipart form.

The `openai` client sends creates, edits and extensions as multipart with nested keys in brackets
(`video[id]`, `input_reference[image_url]`); other clients send JSON. The rules see the same shape either way,
plus where it came from, because only JSON can carry an integer `seconds`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from starlette.datastructures import UploadFile
from starlette.requests import Request

from sora_mcp.sandbox import errors

BodySource = Literal["json", "form"]
MAX_FORM_PART_BYTES = 64 * 1024 * 1024
"""A data: URL of a 1792x1024 PNG fits easily; Starlette's default of 1 MB would refuse it."""

_BRACKETS = re.compile(r"\[([^\[\]]*)\]")


@dataclass(frozen=True)
class Upload:
    """An uploaded file, read into memory (references are images of a few MB at most)."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(frozen=True)
class Body:
    fields: dict[str, object]
    source: BodySource


def split_key(key: str) -> list[str]:
    """`input_reference[image_url]` -> ['input_reference', 'image_url']; a plain key stays whole."""
    head, _, rest = key.partition("[")
    if not rest:
        return [key]
    parts = _BRACKETS.findall("[" + rest)
    return [head, *parts] if parts else [key]


def nest(items: list[tuple[str, object]]) -> dict[str, object]:
    """Bracketed form keys into nested dicts; a later value for the same path wins."""
    result: dict[str, object] = {}
    for key, value in items:
        path = split_key(key)
        target = result
        for part in path[:-1]:
            child = target.get(part)
            if not isinstance(child, dict):
                child = {}
                target[part] = child
            target = child
        target[path[-1]] = value
    return result


async def read_body(request: Request) -> Body:
    """Parse JSON, multipart or urlencoded bodies; an empty body is an empty JSON object."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.form(max_part_size=MAX_FORM_PART_BYTES)
        items: list[tuple[str, object]] = []
        try:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    data = await value.read()
                    items.append((key, Upload(value.filename, value.content_type, data)))
                else:
                    items.append((key, value))
        finally:
            await form.close()
        return Body(nest(items), "form")
    raw = await request.body()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        if not raw:
            return Body({}, "json")
        raise errors.invalid_content_type(content_type)
    if not raw.strip():
        return Body({}, "json")
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise errors.invalid_json() from None
    if not isinstance(parsed, dict):
        raise errors.bad_request(errors.invalid_type("body", "an object", describe(parsed)))
    return Body(parsed, "json")


def describe(value: object) -> str:
    """How the API names a JSON value's type in `Invalid type` messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Upload):
        return "a file"
    return "an object"
