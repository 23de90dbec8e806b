"""Rewrite JSON Schemas into the subset every MCP client accepts, and check that they stay there.

Anthropic, Bedrock and Vertex reject a whole session over a top-level `oneOf`; Gemini rejects `$ref` and
non-string enums; OpenAI strict mode wants `additionalProperties: false` and no `oneOf`. Pydantic emits
all of these, so every schema the server publishes passes through `make_portable` and is checked by
`portability_problems` in the tests.
"""

from __future__ import annotations

import copy
from typing import Any

JsonSchema = dict[str, Any]

_TOP_LEVEL_FORBIDDEN = ("oneOf", "anyOf", "allOf", "if", "then", "else", "not")
_DROPPED_KEYS = ("format", "discriminator", "$schema", "$id")


def make_portable(schema: JsonSchema) -> JsonSchema:
    """Inline `$ref`s, turn `oneOf` into `anyOf` and `const` into one-value enums, drop nulls and formats."""
    defs: dict[str, JsonSchema] = dict(schema.get("$defs", {}))
    return _rewrite(copy.deepcopy(schema), defs, depth=0)


def _resolve(ref: str, defs: dict[str, JsonSchema]) -> JsonSchema:
    prefix = "#/$defs/"
    if not ref.startswith(prefix) or ref[len(prefix) :] not in defs:
        raise ValueError(f"cannot inline $ref {ref!r}")
    return copy.deepcopy(defs[ref[len(prefix) :]])


def _admits_null(node: JsonSchema, defs: dict[str, JsonSchema]) -> bool:
    if "$ref" in node:
        node = _resolve(node["$ref"], defs)
    branches = node.get("anyOf") or node.get("oneOf") or []
    return node.get("type") == "null" or any(_is_null(b) for b in branches)


def _is_null(node: object) -> bool:
    return isinstance(node, dict) and node.get("type") == "null"


def _rewrite(node: JsonSchema, defs: dict[str, JsonSchema], depth: int) -> JsonSchema:
    if depth > 32:
        raise ValueError("schema nests too deeply to inline (recursive model?)")
    if "$ref" in node:
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        node = {**_resolve(node["$ref"], defs), **siblings}
    node.pop("$defs", None)
    for key in _DROPPED_KEYS:
        node.pop(key, None)
    if "oneOf" in node:
        node["anyOf"] = node.pop("oneOf")
    if "const" in node:
        value = node.pop("const")
        node["enum"] = [value]
        node.setdefault("type", _json_type(value))
    if "anyOf" in node:
        branches = [b for b in node["anyOf"] if not _is_null(b)]
        if len(branches) < len(node["anyOf"]) and node.get("default", 0) is None:
            node.pop("default")
        if len(branches) == 1:
            node.pop("anyOf")
            merged = {**_rewrite(branches[0], defs, depth + 1), **{k: v for k, v in node.items() if k != "anyOf"}}
            node = merged
        else:
            # Branches carry their own types; a parent `type: object` would also need its own
            # `additionalProperties: false`, which would reject every branch's properties.
            node["anyOf"] = [_rewrite(b, defs, depth + 1) for b in branches]
    if "enum" in node:
        node["enum"] = [str(v) for v in node["enum"]]
        node["type"] = "string"
    if isinstance(node.get("properties"), dict):
        nullable = {k for k, v in node["properties"].items() if _admits_null(v, defs)}
        node["properties"] = {k: _rewrite(v, defs, depth + 1) for k, v in node["properties"].items()}
        node.setdefault("type", "object")
        if "required" in node:
            # A value that may be null is published as optional instead: results omit None values.
            node["required"] = [k for k in node["required"] if k not in nullable]
    if node.get("type") == "object":
        additional = node.get("additionalProperties")
        if isinstance(additional, dict):
            node["additionalProperties"] = _rewrite(additional, defs, depth + 1)
        elif "properties" in node or additional is None:
            node["additionalProperties"] = False
    if isinstance(node.get("items"), dict):
        node["items"] = _rewrite(node["items"], defs, depth + 1)
    return node


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def portability_problems(schema: JsonSchema, *, top_level: bool = True) -> list[str]:
    """Every rule of the portable subset that `schema` breaks, with the path where it breaks it."""
    problems: list[str] = []
    if top_level:
        if schema.get("type") != "object":
            problems.append("top level: type must be 'object'")
        problems.extend(f"top level: '{k}' is not allowed" for k in _TOP_LEVEL_FORBIDDEN if k in schema)
    _check(schema, "$", problems)
    return problems


def _typed_union(node: dict[str, Any]) -> bool:
    """A nested `anyOf` whose every branch names its type counts as typed (clients accept it)."""
    branches = node.get("anyOf")
    return isinstance(branches, list) and bool(branches) and all(isinstance(b, dict) and "type" in b for b in branches)


def _check(node: object, path: str, problems: list[str]) -> None:
    if not isinstance(node, dict):
        problems.append(f"{path}: a schema node must be an object")
        return
    for key in ("$ref", "$defs", "definitions", "oneOf", "format", "const", "allOf", "if", "not"):
        if key in node:
            problems.append(f"{path}: '{key}' is not portable")
    if "type" not in node and not _typed_union(node):
        problems.append(f"{path}: no 'type'")
    elif "type" in node and not isinstance(node["type"], str):
        problems.append(f"{path}: 'type' must be a single string")
    if "enum" in node and not all(isinstance(v, str) for v in node["enum"]):
        problems.append(f"{path}: enum values must all be strings")
    if node.get("type") == "object" and node.get("additionalProperties") is not False:
        problems.append(f"{path}: objects need 'additionalProperties: false'")
    for name, child in (node.get("properties") or {}).items():
        _check(child, f"{path}.properties.{name}", problems)
    for index, child in enumerate(node.get("anyOf") or []):
        _check(child, f"{path}.anyOf[{index}]", problems)
    if isinstance(node.get("items"), dict):
        _check(node["items"], f"{path}.items", problems)
