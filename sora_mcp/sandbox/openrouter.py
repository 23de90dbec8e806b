"""The sandbox speaking OpenRouter's video dialect under `/api/v1`, with the active profile's rules.

What OpenRouter publishes (its OpenAPI spec of 2026-08-22 and docs, see ../shared/video-dialects.md §1):
`POST /videos` takes JSON only (integer `duration`; `size` *or* `resolution` + `aspect_ratio`; `frame_images`
with a `frame_type`; `generate_audio` and `seed` where the model's flags allow them) and answers 202 with
`{id, polling_url, status: "pending"}`; `GET /videos/{id}` shows `pending`, `in_progress`, `completed`,
`failed`, `cancelled` or `expired`, never a progress, and once completed `unsigned_urls` and `usage.cost`;
a failure's `error` is a plain string. `GET /videos/{id}/content?index=0` streams the MP4 (bearer header
required) and `GET /videos/models` lists every model's legal values. There is no list, delete or remix.
HTTP errors are `{"error": {"code": <status>, "message": ..., "metadata": null}}`.

Where OpenRouter's exact wording is not published (an out-of-set value is "a 400"), the messages here say
what was wrong and which values are legal. Jobs, renders, the ledger and fault injection are the sandbox's
own, shared with the OpenAI dialects.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from PIL import Image, UnidentifiedImageError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sora_mcp.api_errors import ApiError
from sora_mcp.catalog import Catalog, ModelSpec
from sora_mcp.sandbox import errors
from sora_mcp.sandbox.app import Download, HangUp, gate_for, json_response
from sora_mcp.sandbox.body import Body, describe, read_body
from sora_mcp.sandbox.connections import Transports
from sora_mcp.sandbox.lifecycle import Phase
from sora_mcp.sandbox.rules import MAX_PROMPT_CHARS, CreateRequest, ReferenceImage, decode_data_url
from sora_mcp.sandbox.service import SandboxService
from sora_mcp.sandbox.store import Job
from sora_mcp.sizes import Size

API = "/api/v1"
MISSING_AUTH = "Missing Authentication header"
BAD_KEY = "User not found."
NOT_FOUND = "Resource not found"
RATE_LIMITED = "Rate limit exceeded"
CONTENT_POLICY = "Content policy violation"
PROVIDER_ERROR = "Provider returned error"
GENERIC: dict[int, str] = {
    401: MISSING_AUTH,
    402: "Insufficient credits. Add more using https://openrouter.ai/credits",
    404: NOT_FOUND,
    429: RATE_LIMITED,
    500: "Internal Server Error",
    502: PROVIDER_ERROR,
}
"""OpenRouter's documented messages per status, for refusals the shared code words the OpenAI way."""

REQUEST_FIELDS = frozenset(
    {
        "model",
        "prompt",
        "duration",
        "resolution",
        "aspect_ratio",
        "size",
        "frame_images",
        "input_references",
        "generate_audio",
        "seed",
        "callback_url",
        "provider",
        "upscale_factor",
        "creativity",
        "previous_job_id",
        "session_id",
        "trace",
        "user",
    }
)
"""`VideoGenerationRequest`'s fields (SDK 1.3.84); anything else is refused, so a wrong-dialect field such as
`seconds` is caught rather than silently dropped."""
IGNORED_FIELDS = ("callback_url", "provider", "session_id", "trace", "user")
"""Accepted and not acted on: the sandbox sends no webhooks and has no upstream providers."""
SEED_MAX = 2**31 - 1
_IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
STATUS: dict[str, str] = {"queued": "pending", "in_progress": "in_progress", "completed": "completed"}
FAILURE_STATUS: dict[str, str] = {"cancelled": "cancelled", "expired": "expired"}


class OpenRouterRejection(errors.Rejection):
    """A refusal worded for OpenRouter's dialect (shown verbatim, not translated by status)."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, ApiError(message=message), headers)


def invalid(message: str) -> OpenRouterRejection:
    return OpenRouterRejection(400, message)


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "metadata": None}}


def error_response(rejection: errors.Rejection) -> Response:
    """Any refusal in OpenRouter's shape: its own wording, else OpenRouter's documented message for the status."""
    status = rejection.status
    message = rejection.error.message
    if not isinstance(rejection, OpenRouterRejection) and rejection.error.code != "too_many_running_tasks":
        if status in GENERIC:
            message = GENERIC[status]
        elif status >= 500:
            try:
                message = HTTPStatus(status).phrase
            except ValueError:
                message = "Server Error"
    return json_response(error_body(status, message), status, rejection.headers)


def authenticate(request: Request, api_key: str | None) -> None:
    """`Authorization: Bearer <key>` only (OpenRouter has no `api-key` header)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    key = token.strip() if scheme.lower() == "bearer" else ""
    if not key:
        raise OpenRouterRejection(401, MISSING_AUTH)
    if api_key is not None and not hmac.compare_digest(key.encode(), api_key.encode()):
        raise OpenRouterRejection(401, BAD_KEY)


# -- how sizes are spelled -------------------------------------------------------------------------


NAMED_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9", "9:21")
"""OpenRouter's `aspect_ratio` values; a size within 1.5 % of one is called by its name (854x480 is 16:9)."""
NAMED_RESOLUTIONS = {2160: "4K", 1440: "2K"}


def aspect_ratio_of(width: int, height: int) -> str:
    ratio = width / height
    for name in NAMED_RATIOS:
        a, b = (int(part) for part in name.split(":"))
        if abs(ratio / (a / b) - 1) <= 0.015:
            return name
    divisor = math.gcd(width, height)
    return f"{width // divisor}:{height // divisor}"


def derived_frame(size: str) -> tuple[str, str]:
    """A size as resolution + aspect ratio when the catalog spells none: 1280x720 -> ('720p', '16:9')."""
    parsed = Size.parse(size)
    short = min(parsed.width, parsed.height)
    return NAMED_RESOLUTIONS.get(short, f"{short}p"), aspect_ratio_of(parsed.width, parsed.height)


def spelled(model: ModelSpec) -> dict[str, tuple[str, str]]:
    """Every size of the model as (resolution, aspect ratio): the catalog's frames, else derived."""
    result: dict[str, tuple[str, str]] = {}
    for size in model.sizes:
        frame = model.frame(size)
        result[size] = (frame.resolution, frame.aspect_ratio) if frame else derived_frame(size)
    return result


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _listed(values: Sequence[object]) -> str:
    return ", ".join(str(v) for v in values)


# -- the create request ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameImages:
    first: ReferenceImage | None = None
    last: ReferenceImage | None = None


def _model(catalog: Catalog, value: object) -> tuple[str, ModelSpec]:
    if value is None:
        raise invalid("Invalid request parameters: model is required")
    if not isinstance(value, str):
        raise invalid(f"Invalid request parameters: model must be a string, not {describe(value)}")
    for model in catalog.models:
        if value in model.names and model.status != "retired":
            return value, model
    listed = catalog.find_listed(value)
    if listed is not None:
        raise invalid(f"{value} cannot be used for video generation: {listed.reason}")
    raise invalid(f"{value} is not a valid model ID")


def _prompt(fields: Mapping[str, object], model_name: str) -> str:
    prompt = fields.get("prompt")
    if prompt is None:
        raise invalid(f"Invalid request parameters: prompt is required for {model_name}")
    if not isinstance(prompt, str):
        raise invalid(f"Invalid request parameters: prompt must be a string, not {describe(prompt)}")
    if not prompt.strip():
        raise invalid(f"Invalid request parameters: prompt is required for {model_name}")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise invalid(f"Invalid request parameters: prompt is longer than {MAX_PROMPT_CHARS} characters")
    return prompt


def _duration(value: object, model: ModelSpec, model_name: str) -> int:
    if value is None:
        return model.default_seconds
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"Invalid request parameters: duration must be an integer, not {describe(value)}")
    if value not in model.seconds:
        raise invalid(f"Invalid duration {value} for {model_name}: supported durations are {_listed(model.seconds)}")
    return value


def _size(fields: Mapping[str, object], model: ModelSpec, model_name: str) -> Size:
    size, resolution, aspect = fields.get("size"), fields.get("resolution"), fields.get("aspect_ratio")
    if size is not None and (resolution is not None or aspect is not None):
        raise invalid("Invalid request parameters: specify either size or resolution and aspect_ratio, not both")
    if size is not None:
        if not isinstance(size, str):
            raise invalid(f"Invalid request parameters: size must be a string, not {describe(size)}")
        if size not in model.sizes:
            raise invalid(f"Invalid size {size} for {model_name}: supported sizes are {_listed(model.sizes)}")
        return Size.parse(size)
    frames = spelled(model)
    default_resolution, default_aspect = frames[model.default_size]
    for name, value in (("resolution", resolution), ("aspect_ratio", aspect)):
        if value is not None and not isinstance(value, str):
            raise invalid(f"Invalid request parameters: {name} must be a string, not {describe(value)}")
    resolutions = _unique([r for r, _ in frames.values()])
    aspects = _unique([a for _, a in frames.values()])
    if resolution is not None and resolution not in resolutions:
        raise invalid(
            f"Invalid resolution {resolution} for {model_name}: supported resolutions are {_listed(resolutions)}"
        )
    if aspect is not None and aspect not in aspects:
        raise invalid(f"Invalid aspect_ratio {aspect} for {model_name}: supported aspect ratios are {_listed(aspects)}")
    wanted = (resolution or default_resolution, aspect or default_aspect)
    for text, frame in frames.items():
        if frame == wanted:
            return Size.parse(text)
    at_resolution = _unique([a for r, a in frames.values() if r == wanted[0]])
    raise invalid(
        f"Invalid aspect_ratio {wanted[1]} at {wanted[0]} for {model_name}: "
        f"at {wanted[0]} supported aspect ratios are {_listed(at_resolution)}"
    )


def _image(url: object, where: str) -> ReferenceImage:
    if not isinstance(url, str):
        raise invalid(f"Invalid request parameters: {where}.image_url.url must be a string")
    if url.startswith(("http://", "https://")):
        raise invalid(
            f"Invalid request parameters: {where}: the offline sandbox cannot fetch {url[:80]}; send a data: URL"
        )
    if not url.startswith("data:"):
        raise invalid(f"Invalid request parameters: {where}.image_url.url must be an https:// or data: URL")
    try:
        data = decode_data_url(url, f"{where}.image_url.url")
    except errors.Rejection:
        raise invalid(f"Invalid request parameters: {where}.image_url.url is not a readable data: URL") from None
    try:
        with Image.open(io.BytesIO(data)) as image:
            image_format, width, height = image.format or "", image.width, image.height
    except (UnidentifiedImageError, OSError, ValueError):
        raise invalid(f"Invalid request parameters: {where} is not a JPEG, PNG or WebP image") from None
    media_type = _IMAGE_TYPES.get(image_format)
    if media_type is None:
        raise invalid(f"Invalid request parameters: {where} is {image_format or 'an image'}; use JPEG, PNG or WebP")
    return ReferenceImage(data=data, media_type=media_type, width=width, height=height)


def _frame_images(value: object, model: ModelSpec, model_name: str) -> FrameImages:
    if value is None:
        return FrameImages()
    if not isinstance(value, list):
        raise invalid(f"Invalid request parameters: frame_images must be an array, not {describe(value)}")
    found: dict[str, ReferenceImage] = {}
    for index, item in enumerate(value):
        where = f"frame_images[{index}]"
        if not isinstance(item, dict):
            raise invalid(f"Invalid request parameters: {where} must be an object")
        frame_type = item.get("frame_type")
        if frame_type not in ("first_frame", "last_frame"):
            raise invalid(f"Invalid request parameters: {where}.frame_type must be first_frame or last_frame")
        if item.get("type", "image_url") != "image_url":
            raise invalid(f"Invalid request parameters: {where}.type must be image_url")
        if frame_type not in model.frame_images:
            raise invalid(
                f"{frame_type} is not supported by {model_name}: supported frame images are "
                f"{_listed(model.frame_images)}"
            )
        if frame_type in found:
            raise invalid(f"Invalid request parameters: more than one {frame_type} in frame_images")
        image_url = item.get("image_url")
        if not isinstance(image_url, dict):
            raise invalid(f"Invalid request parameters: {where}.image_url must be an object with a url")
        found[str(frame_type)] = _image(image_url.get("url"), where)
    return FrameImages(first=found.get("first_frame"), last=found.get("last_frame"))


def _options(fields: Mapping[str, object], model: ModelSpec, model_name: str) -> tuple[bool | None, int | None]:
    audio, seed = fields.get("generate_audio"), fields.get("seed")
    if audio is not None:
        if not isinstance(audio, bool):
            raise invalid(f"Invalid request parameters: generate_audio must be a boolean, not {describe(audio)}")
        if not model.audio_optional:
            raise invalid(f"generate_audio is not supported by {model_name}")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise invalid(f"Invalid request parameters: seed must be an integer, not {describe(seed)}")
        if not model.seed:
            raise invalid(f"seed is not supported by {model_name}")
        if not 0 <= seed <= SEED_MAX:
            raise invalid(f"Invalid request parameters: seed must be from 0 to {SEED_MAX}")
    return audio, seed


def parse_create(body: Body, catalog: Catalog) -> CreateRequest:
    """`POST /api/v1/videos`: JSON; model, prompt, duration, the frame's shape, frame images, options."""
    if body.source != "json":
        raise invalid("Invalid request parameters: the request body must be JSON")
    fields = body.fields
    unknown = sorted(set(fields) - REQUEST_FIELDS)
    if unknown:
        raise invalid(f"Invalid request parameters: unrecognized field {unknown[0]}")
    model_name, model = _model(catalog, fields.get("model"))
    prompt = _prompt(fields, model_name)
    for name in ("upscale_factor", "creativity"):
        if fields.get(name) is not None:
            raise invalid(f"{name} is only supported by video upscaling models, not by {model_name}")
    if fields.get("previous_job_id") is not None:
        raise invalid(f"{model_name} does not support continuing a previous job (previous_job_id)")
    if fields.get("input_references") is not None:
        raise invalid("Invalid request parameters: the sandbox takes images as frame_images, not input_references")
    seconds = _duration(fields.get("duration"), model, model_name)
    size = _size(fields, model, model_name)
    if not model.allows(seconds, str(size)):
        at_size = [s for s in model.seconds if model.allows(s, str(size))]
        resolution = spelled(model)[str(size)][0]
        raise invalid(
            f"Invalid duration {seconds} for {model_name} at {resolution}: "
            f"at {resolution} supported durations are {_listed(at_size)}"
        )
    images = _frame_images(fields.get("frame_images"), model, model_name)
    audio, seed = _options(fields, model, model_name)
    return CreateRequest(
        prompt=prompt,
        model_name=model.id,
        model=model,
        seconds=seconds,
        size=size,
        reference=images.first,
        last_frame=images.last.data if images.last else None,
        audio=audio,
        seed=seed,
    )


# -- answers -----------------------------------------------------------------------------------------


def polling_url(job_id: str) -> str:
    return f"{API}/videos/{job_id}"


def job_object(job: Job, phase: Phase, origin: str, *, as_accepted: bool = False) -> dict[str, Any]:
    """`VideoGenerationResponse`: no progress, no model, size or times; `error` a plain string."""
    if as_accepted:
        return {"id": job.id, "polling_url": polling_url(job.id), "status": "pending"}
    answer: dict[str, Any] = {"id": job.id, "polling_url": polling_url(job.id)}
    if phase.status == "failed":
        failure = phase.error
        code = failure.code if failure else ""
        answer["status"] = FAILURE_STATUS.get(code, "failed")
        answer["generation_id"] = generation_id(job)
        if code == "moderation_blocked":
            answer["error"] = CONTENT_POLICY
        elif failure is not None:
            answer["error"] = failure.message
        return answer
    answer["status"] = STATUS[phase.status]
    if phase.status == "completed":
        answer["generation_id"] = generation_id(job)
        answer["unsigned_urls"] = [f"{origin}{API}/videos/{job.id}/content?index=0"]
        answer["usage"] = {"cost": job.cost_usd, "is_byok": False}
    return answer


def generation_id(job: Job) -> str:
    return f"gen-{int(job.created_at)}-{job.id}"


# -- the model listing -------------------------------------------------------------------------------


def _suffix(resolution: str) -> str:
    return "_" + resolution.lower()


def _per_resolution(prices: Mapping[str, float], frames: Mapping[str, tuple[str, str]]) -> dict[str, float] | None:
    """One price per resolution, or None when sizes of one resolution are priced differently."""
    by_resolution: dict[str, float] = {}
    for size, price in prices.items():
        resolution = frames[size][0]
        if by_resolution.setdefault(resolution, price) != price:
            return None
    return by_resolution


def _skus(stem: str, prices: Mapping[str, float] | None, frames: Mapping[str, tuple[str, str]]) -> dict[str, str]:
    """`duration_seconds…` keys in dollars per second: a base price plus `_<resolution>` where it differs."""
    if prices is None:
        return {}
    by_resolution = _per_resolution(prices, frames)
    if by_resolution is None:
        return {}
    counts: dict[float, int] = {}
    for price in by_resolution.values():
        counts[price] = counts.get(price, 0) + 1
    base = max(counts, key=lambda p: (counts[p], -p))
    skus = {stem: format(base, "g")}
    for resolution, price in by_resolution.items():
        if price != base:
            skus[stem + _suffix(resolution)] = format(price, "g")
    return skus


def pricing_skus(model: ModelSpec) -> dict[str, str] | None:
    """The catalog's per-second prices as OpenRouter SKUs (dollars per second), or None when unpriced."""
    frames = spelled(model)
    if model.audio_optional:
        skus = {
            **_skus("duration_seconds_without_audio", model.price_per_second_usd, frames),
            **_skus("duration_seconds_with_audio", model.price_per_second_with_audio_usd, frames),
        }
    else:
        skus = _skus("duration_seconds", model.price_per_second_usd, frames)
    return skus or None


def video_model(model: ModelSpec, created: int) -> dict[str, Any]:
    """One `VideoModel` of the listing, from the catalog entry."""
    frames = spelled(model)
    return {
        "id": model.id,
        "canonical_slug": model.id,
        "name": model.id,
        "created": created,
        "description": "; ".join(model.sources) or f"{model.id} (sora-mcp sandbox)",
        "supported_durations": list(model.seconds),
        "supported_resolutions": _unique([r for r, _ in frames.values()]),
        "supported_aspect_ratios": _unique([a for _, a in frames.values()]),
        "supported_sizes": None if model.frames else list(model.sizes),
        "supported_frame_images": list(model.frame_images),
        "generate_audio": {"optional": True, "none": False}.get(model.audio),
        "seed": model.seed,
        "upscale_factor": None,
        "creativity": None,
        "allowed_passthrough_parameters": [],
        "pricing_skus": pricing_skus(model),
    }


def listing(catalog: Catalog) -> dict[str, Any]:
    """`GET /api/v1/videos/models`: the active catalog in OpenRouter's listing format.

    Creatable models with their legal values (`supported_sizes` only for models addressed by size: a model
    whose catalog spells its sizes as resolution + aspect ratio lists those instead); models the catalog lists
    but cannot create (`listed_only`) with `null` values, as OpenRouter lists them; retired models not at all.
    `generate_audio` is true where audio is optional, false where there is none, and null where audio is always
    on (nothing to ask for).
    """
    stamp = catalog.fetched_at or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    created = int(stamp.timestamp())
    data = [video_model(model, created) for model in catalog.models if model.status != "retired"]
    for listed in catalog.listed_only:
        data.append(
            {
                "id": listed.id,
                "canonical_slug": listed.id,
                "name": listed.id,
                "created": created,
                "description": listed.reason,
                "supported_durations": None,
                "supported_resolutions": None,
                "supported_aspect_ratios": None,
                "supported_sizes": None,
                "supported_frame_images": None,
                "generate_audio": None,
                "seed": None,
                "upscale_factor": None,
                "creativity": None,
                "allowed_passthrough_parameters": [],
                "pricing_skus": None,
            }
        )
    return {"data": data}


# -- the app -----------------------------------------------------------------------------------------


def _index(params: Mapping[str, str]) -> int:
    raw = params.get("index", "0")
    try:
        index = int(raw)
    except ValueError:
        raise invalid(f"Invalid request parameters: index must be an integer, not {raw!r}") from None
    if index < 0:
        raise invalid("Invalid request parameters: index must be 0 or more")
    return index


def build_app(service: SandboxService, transports: Transports) -> Starlette:
    """The ASGI app of a sandbox speaking OpenRouter's dialect."""
    config = service.config
    faults = config.faults

    gate = gate_for(service, error_response, authenticate)

    def origin(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    async def create(request: Request) -> Response:
        parsed = parse_create(await read_body(request), config.catalog)
        marker = config.input_moderation_marker
        if marker and marker in parsed.prompt:
            raise invalid(CONTENT_POLICY)
        service.check_capacity()
        job = await asyncio.to_thread(service.create, parsed)  # a durable commit: off the event loop
        if faults.take_drop("create"):
            return HangUp(transports)
        return json_response(job_object(job, service.phase(job), origin(request), as_accepted=True), 202)

    async def retrieve(request: Request) -> Response:
        job = service.job(request.path_params["job_id"])
        return json_response(job_object(job, service.phase(job), origin(request)))

    async def content(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        index = _index(request.query_params)
        job = service.job(job_id)
        phase = service.phase(job)
        if phase.status == "failed":
            raise OpenRouterRejection(404, f"Video generation {job_id} has no content: it ended without a video")
        if phase.status != "completed":
            raise OpenRouterRejection(
                409, f"Video generation {job_id} is not complete yet (status: {STATUS[phase.status]})"
            )
        if index != 0:
            raise OpenRouterRejection(404, f"Video generation {job_id} has 1 output; index {index} does not exist")
        try:
            found = service.content(job_id, "video")
        except errors.Rejection as rejection:
            if rejection.error.code == "video_expired":
                raise OpenRouterRejection(
                    410, f"The output of video generation {job_id} is no longer available"
                ) from None
            raise
        return Download(found, config, transports)

    models_listing = listing(config.catalog)  # the catalog is immutable: render it once

    async def models(request: Request) -> Response:
        return json_response(models_listing)

    async def ledger(request: Request) -> Response:
        try:
            authenticate(request, config.api_key)
        except errors.Rejection as rejection:
            return error_response(rejection)
        return json_response(service.state().to_json())

    async def unknown(request: Request) -> Response:
        return error_response(OpenRouterRejection(404, NOT_FOUND))

    routes = [
        Route(f"{API}/videos", gate("create", create), methods=["POST"]),
        Route(f"{API}/videos/models", gate("models", models, public=True), methods=["GET"]),
        Route(f"{API}/videos/{{job_id}}", gate("retrieve", retrieve), methods=["GET"]),
        Route(f"{API}/videos/{{job_id}}/content", gate("content", content), methods=["GET"]),
        Route(f"{API}/sandbox/ledger", ledger, methods=["GET"]),
        Route("/v1/sandbox/ledger", ledger, methods=["GET"]),
        Route("/{path:path}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
    ]
    return Starlette(routes=routes)
