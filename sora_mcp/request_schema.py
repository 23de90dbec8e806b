"""The (model, seconds, size) request: its loose params model and its strict, catalog-generated JSON Schema.

Pydantic would publish a discriminated union as `$defs` + `oneOf` + `const`, which several clients reject
outright. Instead the schema is written directly in the portable subset: the `video` object lists every
name, duration and size, and a nested `anyOf` with one branch per group of models sharing the same rules
makes every illegal combination fail validation.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from sora_mcp.catalog import Catalog, ModelSpec
from sora_mcp.portable_schema import JsonSchema
from sora_mcp.sizes import Size

MAX_PROMPT_CHARS = 32000


IDEMPOTENCY_KEY_MAX_CHARS = 200
WAIT_DESCRIPTION = (
    "Seconds to wait for the render before answering: default 3 (the OpenAI Agents SDK cuts calls at 5 s), "
    "at most 45 on hosts that allow 60 s calls; 0 answers at once. Call get_video_status to keep waiting."
)
IDEMPOTENCY_DESCRIPTION = (
    "Optional. Without it (or with ''), an identical request made in the last 10 minutes returns that job "
    "instead of paying again. The same key always returns the same job; a new key makes a deliberate second take."
)


SEED_MAX = 2**31 - 1
AUDIO_DESCRIPTION = (
    "Optional, only for models with optional audio: true asks for a soundtrack (priced higher); default off."
)
SEED_DESCRIPTION = f"Optional, only for models that take a seed: 0..{SEED_MAX}; the same seed tends to repeat a take."
LAST_FRAME_DESCRIPTION = (
    "Optional, only for models that take a last frame: a file path (inside the allowed directories) or a data: URL "
    "of a JPEG, PNG or WebP the video should end on; '' means none. Give the first frame as reference_image."
)


class VideoSpec(BaseModel):
    """What the agent sends, after the published schema admitted it (so `seconds` is one of the legal strings).

    `audio`, `seed` and `last_frame` are admitted by the schema only for models that support them.
    """

    model_config = ConfigDict(extra="forbid")

    model: str
    seconds: str
    size: str
    audio: bool | None = None
    seed: int | None = None
    last_frame: str | None = None


def _groups(catalog: Catalog) -> list[list[ModelSpec]]:
    """Models that accept exactly the same requests (rectangles and options) share schema branches."""
    groups: dict[Any, list[ModelSpec]] = {}
    for model in catalog:
        groups.setdefault(model.rules_key(), []).append(model)
    return list(groups.values())


def _sorted_sizes(sizes: set[str]) -> list[str]:
    return sorted(sizes, key=lambda s: (Size.parse(s).area, s))


def _options(model: ModelSpec, *, described: bool) -> JsonSchema:
    """The per-model options of `video`, for the branches of the models that support them."""
    options: JsonSchema = {}
    if model.audio_optional:
        options["audio"] = {"type": "boolean"}
    if model.seed:
        options["seed"] = {"type": "integer", "minimum": 0, "maximum": SEED_MAX}
    if model.last_frame:
        options["last_frame"] = {"type": "string"}
    if described:
        descriptions = {"audio": AUDIO_DESCRIPTION, "seed": SEED_DESCRIPTION, "last_frame": LAST_FRAME_DESCRIPTION}
        for name, node in options.items():
            node["description"] = descriptions[name]
    return options


def _branch(models: list[ModelSpec], seconds: tuple[int, ...], sizes: tuple[str, ...]) -> JsonSchema:
    return {
        "type": "object",
        "properties": {
            "model": {"type": "string", "enum": [n for m in models for n in m.names]},
            "seconds": {"type": "string", "enum": [str(s) for s in seconds]},
            "size": {"type": "string", "enum": _sorted_sizes(set(sizes))},
            **_options(models[0], described=False),
        },
        "required": ["model", "seconds", "size"],
        "additionalProperties": False,
    }


def _model_rules(model: ModelSpec) -> str:
    status = " (RETIRED)" if model.status == "retired" else ""
    if model.combinations:
        shapes = "; ".join(
            f"seconds {'/'.join(str(s) for s in secs)} with sizes {', '.join(sizes)}"
            for secs, sizes in model.rectangles()
        )
    else:
        shapes = f"seconds {'/'.join(model.wire_seconds)}; sizes {', '.join(model.sizes)}"
    extras = [
        text
        for flag, text in (
            (model.audio_optional, "audio optional"),
            (model.seed, "seed"),
            (model.last_frame, "last_frame"),
            (not model.frame_images, "no reference image"),
        )
        if flag
    ]
    return f"{model.id}{status}: {shapes}" + "".join(f"; {e}" for e in extras)


def _rules_text(catalog: Catalog) -> str:
    return "; ".join(_model_rules(model) for model in catalog)


def video_schema(catalog: Catalog) -> JsonSchema:
    """Only legal requests of `catalog` validate: (model, seconds, size) and each model's own options."""
    groups = _groups(catalog)
    branches = [_branch(group, secs, sizes) for group in groups for secs, sizes in group[0].rectangles()]
    options: JsonSchema = {}
    for model in catalog:
        options.update(_options(model, described=True))
    ordered_options = {name: options[name] for name in ("audio", "seed", "last_frame") if name in options}
    schema: JsonSchema = {
        "type": "object",
        "description": (
            "The video to make. Only these combinations exist: " + _rules_text(catalog) + ". "
            "seconds is a string such as '8'. Unsure? Call validate_params first."
        ),
        "properties": {
            "model": {"type": "string", "enum": list(catalog.model_names), "description": "model id or snapshot"},
            "seconds": {
                "type": "string",
                "enum": [str(s) for s in sorted({s for m in catalog for s in m.seconds})],
                "description": "duration in seconds, as a string; legal values depend on the model",
            },
            "size": {
                "type": "string",
                "enum": _sorted_sizes({s for m in catalog for s in m.sizes}),
                "description": "WIDTHxHEIGHT; legal values depend on the model",
            },
            **ordered_options,
        },
        "required": ["model", "seconds", "size"],
        "additionalProperties": False,
    }
    if len(branches) > 1:
        schema["anyOf"] = branches
    return schema


def create_video_schema(catalog: Catalog) -> JsonSchema:
    """The input schema of `create_video`, in the portable subset."""
    return {
        "type": "object",
        "properties": {
            "prompt": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_PROMPT_CHARS,
                "description": "What happens in the video: subject, action, setting, camera, lighting, sound.",
            },
            "video": video_schema(catalog),
            "reference_image": {
                "type": "string",
                "description": (
                    "Optional first frame: a file path (inside the allowed directories) or a data: URL of a JPEG, "
                    "PNG or WebP; '' means none. It is fitted to the video size automatically (see fit)."
                ),
            },
            "fit": {
                "type": "string",
                "enum": ["cover", "pad", "stretch", "none"],
                "description": (
                    "How to make the reference image exactly the video size: cover crops to fill (default), pad keeps "
                    "the whole picture with black bars, stretch distorts, none refuses a mismatch."
                ),
            },
            "wait_seconds": {"type": "number", "minimum": 0, "maximum": 45, "description": WAIT_DESCRIPTION},
            "idempotency_key": {
                "type": "string",
                "maxLength": IDEMPOTENCY_KEY_MAX_CHARS,
                "description": IDEMPOTENCY_DESCRIPTION,
            },
        },
        "required": ["prompt", "video"],
        "additionalProperties": False,
    }
