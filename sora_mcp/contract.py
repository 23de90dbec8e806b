"""The published input schema is the contract: arguments are checked against exactly it, before any work.

Why not the SDK's signature-derived pydantic model: it is a second, different contract (it coerces `"20"` to
20, accepts an integer where the schema says string, ignores unknown keys), so what a client can express and
what the server accepts would drift apart. A Draft 2020-12 validator over the very dict `tools/list` sends
makes "accepted" and "schema-valid" the same thing, and the refusal names the parameter, what was wrong,
the legal values and the fix, in the provider's wording where one exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sora_mcp.api_errors import missing_parameter, quote_list, unknown_parameter
from sora_mcp.errors import ErrorInfo
from sora_mcp.portable_schema import JsonSchema

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

_SHOWN_CHARS = 60
NUMBER_BOUND = 10**12
"""Every published integer or number is bounded (at most this, at least minus this, unless tighter): no legal
argument needs more, and an unbounded one would let a 5000-digit number reach code that cannot print it."""
_HUGE_BITS = 4000
"""Integers wider than this (about 1200 digits) are refused before the validator, which would `repr()` them."""


def _show(value: object) -> str:
    """A value as the agent sent it, cut short: error texts must stay small whatever was sent."""
    import json

    try:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def first_path(value: object, found: Callable[[object], bool], path: str = "") -> str | None:
    """The argument path (`video.seconds`, `items.0`) of the first value, keys included, for which `found` holds."""
    if found(value):
        return path or "(arguments)"
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            hit = (here if found(key) else None) or first_path(item, found, here)
            if hit is not None:
                return hit
    if isinstance(value, list):
        for index, item in enumerate(value):
            hit = first_path(item, found, f"{path}.{index}")
            if hit is not None:
                return hit
    return None


def _too_wide(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > _HUGE_BITS


def lone_surrogate(value: object) -> bool:
    """Text JSON allows (`\\ud800`) that is not valid Unicode and cannot be stored or encoded."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def bound_numbers(schema: JsonSchema) -> JsonSchema:
    """The schema with `NUMBER_BOUND` on every integer or number that has no bound of its own (in place)."""
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "integer" in kinds or "number" in kinds:
        if "maximum" not in schema and "exclusiveMaximum" not in schema:
            schema["maximum"] = NUMBER_BOUND
        if "minimum" not in schema and "exclusiveMinimum" not in schema:
            schema["minimum"] = -NUMBER_BOUND
    for key in ("properties", "$defs"):
        for sub in (schema.get(key) or {}).values():
            if isinstance(sub, dict):
                bound_numbers(sub)
    for key in ("anyOf", "allOf", "oneOf", "prefixItems"):
        for sub in schema.get(key) or []:
            if isinstance(sub, dict):
                bound_numbers(sub)
    for key in ("items", "additionalProperties"):
        sub = schema.get(key)
        if isinstance(sub, dict):
            bound_numbers(sub)
    return schema


def _path(parts: Iterable[object]) -> str:
    return ".".join(str(p) for p in parts) or "(arguments)"


_JSON_TYPE = {
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    list: "an array",
    dict: "an object",
}


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return _JSON_TYPE.get(type(value), type(value).__name__)


class ArgumentContract:
    """One tool's published input schema, compiled once, turning refusals into `ErrorInfo`s."""

    def __init__(self, tool: str, schema: JsonSchema) -> None:
        self.tool = tool
        self.schema = schema

    @cached_property
    def _validator(self) -> Draft202012Validator:
        from jsonschema import Draft202012Validator

        return Draft202012Validator(self.schema)

    def refusal(self, arguments: Mapping[str, Any]) -> ErrorInfo | None:
        """None when the schema admits `arguments`; else the most relevant problem, explained."""
        from jsonschema.exceptions import best_match

        path = first_path(arguments, _too_wide)
        if path is not None:
            return ErrorInfo(
                stage="arguments",
                message=f"'{path}' must be at most {NUMBER_BOUND}, got a number of more than 1,000 digits.",
                code="invalid_value",
                param=path,
                fix=f"Send a value between {-NUMBER_BOUND} and {NUMBER_BOUND}.",
            )
        errors = list(self._validator.iter_errors(dict(arguments)))
        if not errors:
            return None
        error = best_match(errors)
        assert error is not None
        return self._explain(error, len(errors))

    def _explain(self, error: ValidationError, count: int) -> ErrorInfo:
        if error.validator in ("anyOf", "oneOf") and error.context:
            # A combination nobody allows: the branch of the value's own type says the most (a number too
            # large, not "expected string"), else the deepest branch error, unless the caller's own rules
            # (create_video's video) can say more; see `tools.videos`.
            from jsonschema.exceptions import best_match

            same_type = [e for e in error.context if e.validator != "type" and len(e.relative_path) == 0]
            inner = best_match(same_type or error.context)
            if inner is not None and inner.validator not in ("anyOf", "oneOf"):
                branches = error.schema.get(str(error.validator), []) if isinstance(error.schema, Mapping) else []
                combination = all(isinstance(b, Mapping) and b.get("type") == "object" for b in branches)
                return self._explain_leaf(inner, count, combination=combination, whole=error)
        return self._explain_leaf(error, count)

    def _explain_leaf(
        self, error: ValidationError, count: int, *, combination: bool = False, whole: ValidationError | None = None
    ) -> ErrorInfo:
        path = list(error.absolute_path)
        param = _path(path)
        schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
        legal: list[Any] | None = None
        code = "invalid_value"
        fix: str | None = None
        validator = str(error.validator)
        instance = error.instance
        if validator == "additionalProperties":
            allowed = sorted(schema.get("properties", {}))
            extra = sorted(set(instance) - set(allowed)) if isinstance(instance, Mapping) else []
            name = _path([*path, extra[0]]) if extra else param
            message = unknown_parameter(name).message
            code, param, legal = "unknown_parameter", name, allowed
            fix = f"Remove '{name}'; {'this object' if path else self.tool} accepts only {quote_list(allowed)}."
        elif validator == "required":
            missing = [r for r in schema.get("required", []) if isinstance(instance, Mapping) and r not in instance]
            name = _path([*path, missing[0]]) if missing else param
            message = missing_parameter(name).message
            code, param = "missing_required_parameter", name
            fix = f"Add '{name}'."
        elif validator == "enum":
            legal = list(schema.get("enum", []))
            message = f"Invalid value: '{_show(instance)}'. Supported values are: {quote_list(legal)}."
            fix = self._enum_fix(instance, legal, param)
        elif validator == "const":
            legal = [schema.get("const")]
            message = f"Invalid value: '{_show(instance)}'. The only supported value is {quote_list(legal)}."
        elif validator == "type":
            expected = schema.get("type")
            wanted = " or ".join(expected) if isinstance(expected, list) else str(expected)
            message = f"Invalid type for '{param}': expected {wanted}, but got {_type_name(instance)} instead."
            code = "invalid_type"
            if wanted == "string" and isinstance(instance, int | float) and not isinstance(instance, bool):
                shown = str(int(instance)) if isinstance(instance, int) or instance.is_integer() else str(instance)
                fix = f'Send it as a string: "{shown}".'
                if "enum" in schema:
                    legal = list(schema["enum"])
        elif validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            bound = schema.get(validator)
            word = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "more than"}.get(
                validator, "less than"
            )
            message = f"'{param}' must be {word} {bound}, got {_show(instance)}."
            fix = f"Send a value {word} {bound}."
        elif validator in ("minLength", "maxLength"):
            bound = schema.get(validator)
            length = len(instance) if isinstance(instance, str) else 0
            word = "at least" if validator == "minLength" else "at most"
            if validator == "minLength" and bound == 1:
                message = f"'{param}' must not be empty."
            else:
                message = f"'{param}' must be {word} {bound} characters, got {length}."
        elif validator in ("minItems", "maxItems"):
            bound = schema.get(validator)
            word = "at least" if validator == "minItems" else "at most"
            message = f"'{param}' must have {word} {bound} items."
        elif validator == "pattern":
            message = f"'{param}' does not match the pattern {schema.get('pattern')!r}: '{_show(instance)}'."
        else:
            message = f"'{param}' is not valid: {error.message[:200]}"
        if combination and whole is not None:
            message = f"{message} (this combination of {_path(whole.absolute_path)} values is not offered)"
        if count > 1:
            message += f" ({count - 1} more problem{'s' if count > 2 else ''} in these arguments.)"
        return ErrorInfo(stage="arguments", message=message, code=code, param=param, legal_values=legal, fix=fix)

    @staticmethod
    def _enum_fix(instance: object, legal: Sequence[Any], param: str) -> str | None:
        """'8s', ' 8', '8.0', 8 → "send '8'": the nearest spelling of a legal value, when there is one."""
        if not isinstance(instance, str | int | float) or isinstance(instance, bool):
            return None
        text = str(instance).strip().lower().removesuffix("seconds").removesuffix("sec").removesuffix("s").strip()
        text = text.replace("×", "x").replace(" ", "")
        for value in legal:
            candidate = str(value).lower()
            if text == candidate:
                return f"Send {param} as '{value}' exactly."
            try:
                if float(text) == float(candidate):
                    return f"Send {param} as '{value}' exactly."
            except ValueError:
                continue
        return None
