"""A catalog profile's rules for each request, as the provider would apply them, with its exact refusals.

Pure functions over an already-parsed body (see `body.py`): no HTTP, no clock, no storage, so every rule is
testable on its own and the wording comes from one place (`sora_mcp.api_errors` and `errors.py`).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, get_args
from urllib.parse import unquote_to_bytes

from PIL import Image, UnidentifiedImageError

from sora_mcp.api_errors import (
    INPUT_MODERATION,
    ApiError,
    invalid_seconds_type,
    invalid_value,
    missing_parameter,
    reference_size_mismatch,
    unknown_parameter,
)
from sora_mcp.catalog import Catalog, ModelSpec
from sora_mcp.sandbox import errors
from sora_mcp.sandbox.body import Body, BodySource, Upload, describe
from sora_mcp.sizes import Size

MAX_PROMPT_CHARS = 32_000
MAX_LIST_LIMIT = 100
DEFAULT_LIST_LIMIT = 20

ListOrder = Literal["asc", "desc"]
Variant = Literal["video", "thumbnail", "spritesheet"]
VARIANTS: tuple[Variant, ...] = get_args(Variant)
ORDERS: tuple[ListOrder, ...] = get_args(ListOrder)
_IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}

FileResolver = Callable[[str], bytes | None]
"""Looks up an uploaded file by id (the sandbox's small Files API); None when unknown."""

_CREATE_FIELDS = {"prompt": (), "model": (), "seconds": (), "size": (), "input_reference": ("image_url", "file_id")}
_NEW_API_CREATE_FIELDS = {**_CREATE_FIELDS, "duration": (), "metadata": ()}
_NEW_API_METADATA_FIELDS = ("resolution", "aspect_ratio", "aspectRatio")
_REMIX_FIELDS: dict[str, tuple[str, ...]] = {"prompt": ()}
_EDIT_FIELDS = {"prompt": (), "video": ("id",)}
_EXTEND_FIELDS = {"prompt": (), "seconds": (), "video": ("id",)}
_FILE_FIELDS: dict[str, tuple[str, ...]] = {"file": (), "purpose": (), "expires_after": ("anchor", "seconds")}


@dataclass(frozen=True)
class ReferenceImage:
    """A reference the provider would accept: JPEG, PNG or WebP of exactly the requested size."""

    data: bytes
    media_type: str
    width: int
    height: int


@dataclass(frozen=True)
class CreateRequest:
    prompt: str
    model_name: str
    """The name as the client wrote it (an id or an alias); echoed back like the provider does."""
    model: ModelSpec
    seconds: int
    size: Size
    reference: ReferenceImage | None
    last_frame: bytes | None = None
    """OpenRouter's `last_frame` image, where the model takes one."""
    audio: bool | None = None
    """OpenRouter's `generate_audio`, where the model's audio is optional."""
    seed: int | None = None


@dataclass(frozen=True)
class SourcedRequest:
    """Remix, edit or extension: a prompt applied to a video made here (by id) or uploaded as a file.

    `seconds` (extensions) stays raw until the source's model is known.
    """

    prompt: str
    video_id: str | None = None
    video_file: Upload | None = None
    seconds: object = None

    @property
    def source_label(self) -> str:
        return self.video_id or "uploaded video"


@dataclass(frozen=True)
class ListQuery:
    after: str | None
    limit: int
    order: ListOrder


def reject(error: ApiError) -> errors.Rejection:
    return errors.bad_request(error)


def check_known(fields: Mapping[str, object], allowed: Mapping[str, tuple[str, ...]]) -> None:
    """`Unknown parameter: 'duration'.` for any field the endpoint does not define, nested ones dotted."""
    for key, value in fields.items():
        if key not in allowed:
            raise reject(unknown_parameter(key))
        nested = allowed[key]
        if nested and isinstance(value, dict):
            for sub in value:
                if sub not in nested:
                    raise reject(unknown_parameter(f"{key}.{sub}"))


def _object_field(value: object, param: str) -> object:
    """Forms can carry an object only as bracketed keys or as JSON text; accept both."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            parsed: object = json.loads(value)
        except ValueError:
            return value
        return parsed
    return value


def check_prompt(fields: Mapping[str, object]) -> str:
    if "prompt" not in fields or fields["prompt"] is None:
        raise reject(missing_parameter("prompt"))
    prompt = fields["prompt"]
    if not isinstance(prompt, str):
        raise reject(errors.invalid_type("prompt", "a string", describe(prompt)))
    if not prompt:
        raise reject(errors.empty_string("prompt"))
    if len(prompt) > MAX_PROMPT_CHARS:
        raise reject(errors.string_too_long("prompt", MAX_PROMPT_CHARS, len(prompt)))
    return prompt


def check_input_moderation(prompt: str, marker: str) -> None:
    """The sandbox cannot see faces; a marker in the prompt stands in for what input moderation refuses."""
    if marker and marker in prompt:
        raise reject(ApiError(message=INPUT_MODERATION, code="moderation_blocked"))


def resolve_model(catalog: Catalog, value: object) -> tuple[str, ModelSpec]:
    """The model named exactly (id or alias); absent means the catalog's first model, as `sora-2` upstream."""
    if value is None:
        first = catalog.models[0]
        return first.id, first
    if not isinstance(value, str):
        raise reject(errors.invalid_type("model", "a string", describe(value)))
    for model in catalog.models:
        if value in model.names:
            if model.status == "retired":
                raise errors.model_not_found(value)
            return value, model
    raise reject(invalid_value("model", value, catalog.model_names))


def parse_seconds(value: object, allowed: Iterable[int], model: ModelSpec, source: BodySource) -> int:
    """Seconds as the profile wants them on the wire: strings only, or integers and digit strings."""
    legal = tuple(allowed)
    supported = tuple(str(s) for s in legal)
    if isinstance(value, str):
        if value in supported:
            return int(value)
        raise reject(invalid_value("seconds", value, supported))
    if isinstance(value, bool) or not isinstance(value, int):
        raise reject(invalid_seconds_type(supported, got=describe(value)))
    if source == "json" and model.seconds_wire == "string":
        raise reject(invalid_seconds_type(supported))
    if value in legal:
        return value
    raise reject(invalid_value("seconds", value, supported))


def parse_size(value: object, model: ModelSpec) -> Size:
    if value is None:
        return Size.parse(model.default_size)
    if not isinstance(value, str):
        raise reject(errors.invalid_type("size", "a string", describe(value)))
    if value not in model.sizes:
        raise reject(invalid_value("size", value, model.sizes))
    return Size.parse(value)


def decode_data_url(url: str, param: str) -> bytes:
    header, comma, payload = url.partition(",")
    if not comma:
        raise reject(errors.unreadable_image_url(param))
    try:
        if header.endswith(";base64"):
            return base64.b64decode("".join(payload.split()), validate=True)
        return unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        raise reject(errors.unreadable_image_url(param)) from None


def _reference_bytes(value: object, resolve_file: FileResolver) -> tuple[bytes, str | None]:
    value = _object_field(value, "input_reference")
    if isinstance(value, Upload):
        return value.data, value.content_type
    if not isinstance(value, dict):
        raise reject(errors.invalid_type("input_reference", "a file or an object", describe(value)))
    image_url, file_id = value.get("image_url"), value.get("file_id")
    if (image_url is None) == (file_id is None):
        raise reject(errors.exactly_one_of("input_reference", ("image_url", "file_id")))
    if image_url is not None:
        param = "input_reference.image_url"
        if not isinstance(image_url, str):
            raise reject(errors.invalid_type(param, "a string", describe(image_url)))
        if image_url.startswith("data:"):
            declared = image_url[5:].split(";", 1)[0].split(",", 1)[0] or None
            return decode_data_url(image_url, param), declared
        if image_url.startswith(("http://", "https://")):
            raise reject(errors.remote_url_unsupported(param, image_url))
        raise reject(errors.unreadable_image_url(param))
    if not isinstance(file_id, str):
        raise reject(errors.invalid_type("input_reference.file_id", "a string", describe(file_id)))
    data = resolve_file(file_id)
    if data is None:
        raise errors.file_not_found(file_id)
    return data, None


def parse_reference(value: object, size: Size, resolve_file: FileResolver) -> ReferenceImage:
    """Read the reference's header: it must be JPEG, PNG or WebP and exactly `size` pixels."""
    data, declared = _reference_bytes(value, resolve_file)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image_format, width, height = image.format or "", image.width, image.height
    except (UnidentifiedImageError, OSError, ValueError):
        if declared and declared not in _IMAGE_TYPES.values():
            raise reject(errors.unsupported_image("input_reference", declared)) from None
        raise reject(errors.unreadable_image("input_reference")) from None
    media_type = _IMAGE_TYPES.get(image_format)
    if media_type is None:
        raise reject(errors.unsupported_image("input_reference", Image.MIME.get(image_format, image_format.lower())))
    if (width, height) != (size.width, size.height):
        raise reject(reference_size_mismatch())
    return ReferenceImage(data=data, media_type=media_type, width=width, height=height)


def _new_api_size(metadata: object, size: object, model: ModelSpec) -> Size | None:
    """`metadata.resolution` (+ aspect ratio) as New-API gateways take it, spelled by the model's frames."""
    metadata = _object_field(metadata, "metadata")
    if not isinstance(metadata, dict):
        raise reject(errors.invalid_type("metadata", "an object", describe(metadata)))
    resolution = metadata.get("resolution")
    aspect = metadata.get("aspect_ratio", metadata.get("aspectRatio"))
    if resolution is None and aspect is None:
        return None
    current = model.frame(size if isinstance(size, str) else model.default_size)
    wanted_resolution = resolution if resolution is not None else (current.resolution if current else None)
    wanted_aspect = aspect if aspect is not None else (current.aspect_ratio if current else None)
    resolutions = tuple(dict.fromkeys(f.resolution for f in model.frames.values()))
    if wanted_resolution not in resolutions:
        raise reject(invalid_value("metadata.resolution", str(wanted_resolution), resolutions))
    for text, frame in model.frames.items():
        if (frame.resolution, frame.aspect_ratio) == (wanted_resolution, wanted_aspect):
            return Size.parse(text)
    aspects = tuple(f.aspect_ratio for f in model.frames.values() if f.resolution == wanted_resolution)
    raise reject(invalid_value("metadata.aspect_ratio", str(wanted_aspect), aspects))


def parse_create(body: Body, catalog: Catalog, resolve_file: FileResolver, *, new_api: bool = False) -> CreateRequest:
    """`POST /videos`: unknown fields, then prompt, model, seconds, size, and the reference last.

    With `new_api`, also what New-API gateways take: `duration` for `seconds`, `metadata.resolution`.
    """
    fields = body.fields
    check_known(fields, _NEW_API_CREATE_FIELDS if new_api else _CREATE_FIELDS)
    prompt = check_prompt(fields)
    model_name, model = resolve_model(catalog, fields.get("model"))
    raw_seconds = fields.get("seconds")
    if new_api and raw_seconds is None:
        raw_seconds = fields.get("duration")
    seconds = (
        model.default_seconds if raw_seconds is None else parse_seconds(raw_seconds, model.seconds, model, body.source)
    )
    size = None
    if new_api and fields.get("metadata") is not None:
        size = _new_api_size(fields["metadata"], fields.get("size"), model)
    if size is None:
        size = parse_size(fields.get("size"), model)
    if not model.allows(seconds, str(size)):
        raise reject(errors.combination_not_allowed(model_name, seconds, str(size), model))
    raw_reference = fields.get("input_reference")
    reference = None if raw_reference is None else parse_reference(raw_reference, size, resolve_file)
    return CreateRequest(
        prompt=prompt, model_name=model_name, model=model, seconds=seconds, size=size, reference=reference
    )


def parse_remix(body: Body, video_id: str) -> SourcedRequest:
    check_known(body.fields, _REMIX_FIELDS)
    return SourcedRequest(prompt=check_prompt(body.fields), video_id=video_id)


def _video_source(fields: Mapping[str, object]) -> tuple[str | None, Upload | None]:
    """`video` as `{"id": ...}` (JSON, bracketed form keys or JSON text) or as an uploaded file."""
    if fields.get("video") is None:
        raise reject(missing_parameter("video"))
    video = _object_field(fields["video"], "video")
    if isinstance(video, Upload):
        return None, video
    if not isinstance(video, dict):
        raise reject(errors.invalid_type("video", "a file or an object", describe(video)))
    video_id = video.get("id")
    if video_id is None:
        raise reject(missing_parameter("video.id"))
    if not isinstance(video_id, str):
        raise reject(errors.invalid_type("video.id", "a string", describe(video_id)))
    return video_id, None


def parse_edit(body: Body) -> SourcedRequest:
    check_known(body.fields, _EDIT_FIELDS)
    prompt = check_prompt(body.fields)
    video_id, video_file = _video_source(body.fields)
    return SourcedRequest(prompt=prompt, video_id=video_id, video_file=video_file)


def parse_extend(body: Body) -> SourcedRequest:
    check_known(body.fields, _EXTEND_FIELDS)
    prompt = check_prompt(body.fields)
    video_id, video_file = _video_source(body.fields)
    if body.fields.get("seconds") is None:
        raise reject(missing_parameter("seconds"))
    return SourcedRequest(prompt=prompt, video_id=video_id, video_file=video_file, seconds=body.fields["seconds"])


def extension_steps(model: ModelSpec) -> tuple[int, ...]:
    """Legal lengths of one extension step: multiples of the model's shortest clip up to the step limit.

    With OpenAI's table (4 s clips, 20 s steps) that is 4, 8, 12, 16 and 20, the values the SDK documents.
    """
    if model.extension is None:
        return ()
    base = min(model.seconds)
    steps = tuple(range(base, model.extension.max_step_seconds + 1, base))
    return steps or (model.extension.max_step_seconds,)


def check_extension(
    request: SourcedRequest, model: ModelSpec, model_name: str, total_seconds: int, steps_taken: int, source: BodySource
) -> int:
    """The step length in seconds, within the catalog's per-step, step-count and total limits."""
    limits = model.extension
    if limits is None:
        raise reject(errors.extension_unsupported(model_name))
    step = parse_seconds(request.seconds, extension_steps(model), model, source)
    if steps_taken >= limits.max_steps:
        raise reject(errors.extension_too_many_steps(request.source_label, limits.max_steps))
    if total_seconds + step > limits.max_total_seconds:
        raise reject(errors.extension_too_long(total_seconds + step, limits.max_total_seconds))
    return step


def parse_list_query(params: Mapping[str, str]) -> ListQuery:
    """`after`, `limit` (0..100, default 20) and `order` (asc|desc, default desc); others are ignored."""
    limit = DEFAULT_LIST_LIMIT
    raw_limit = params.get("limit")
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise reject(errors.invalid_type("limit", "an integer", "a string")) from None
        if not 0 <= limit <= MAX_LIST_LIMIT:
            raise reject(errors.integer_out_of_range("limit", limit, 0, MAX_LIST_LIMIT))
    order = params.get("order", "desc")
    if order not in ORDERS:
        raise reject(invalid_value("order", order, ORDERS))
    after = params.get("after") or None
    return ListQuery(after=after, limit=limit, order="asc" if order == "asc" else "desc")


def parse_variant(params: Mapping[str, str]) -> Variant:
    variant = params.get("variant", "video")
    for known in VARIANTS:
        if variant == known:
            return known
    raise reject(invalid_value("variant", variant, VARIANTS))


@dataclass(frozen=True)
class FileUpload:
    upload: Upload
    purpose: str


def parse_file_upload(body: Body) -> FileUpload:
    """`POST /files` (multipart `file` + `purpose`): just enough for `input_reference.file_id`."""
    check_known(body.fields, _FILE_FIELDS)
    upload = body.fields.get("file")
    if upload is None:
        raise reject(missing_parameter("file"))
    if not isinstance(upload, Upload):
        raise reject(errors.invalid_type("file", "a file", describe(upload)))
    purpose = body.fields.get("purpose")
    if purpose is None:
        raise reject(missing_parameter("purpose"))
    if not isinstance(purpose, str):
        raise reject(errors.invalid_type("purpose", "a string", describe(purpose)))
    return FileUpload(upload=upload, purpose=purpose)
