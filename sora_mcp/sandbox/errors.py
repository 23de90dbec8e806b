"""Refusals the sandbox answers with: an HTTP status plus an `ApiError` body worded like the provider's.

The request-parameter messages come from `sora_mcp.api_errors` (shared with the validator); the ones here
belong to the HTTP surface (auth, not found, rate limits, lifecycle), worded after OpenAI's own answers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from sora_mcp.api_errors import ApiError, invalid_value
from sora_mcp.catalog import ModelSpec

OPENAI_KEYS_URL = "https://platform.openai.com/account/api-keys"


class Rejection(Exception):
    """An error answer: status, body and extra headers (e.g. Retry-After)."""

    def __init__(self, status: int, error: ApiError, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(error.message)
        self.status = status
        self.error = error
        self.headers = dict(headers or {})


def bad_request(error: ApiError) -> Rejection:
    return Rejection(400, error)


def missing_api_key() -> Rejection:
    return Rejection(
        401,
        ApiError(
            message=(
                "You didn't provide an API key. You need to provide your API key in an Authorization header using "
                "Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) "
                "if you're accessing the API from your browser and are prompted for a username and password. "
                f"You can obtain an API key from {OPENAI_KEYS_URL}."
            )
        ),
    )


def mask_key(key: str) -> str:
    """`sk-abc*****wxyz`: the provider echoes only the ends of a wrong key."""
    if len(key) <= 8:
        return "*" * len(key)
    return key[:3] + "*" * (len(key) - 7) + key[-4:]


def incorrect_api_key(key: str) -> Rejection:
    return Rejection(
        401,
        ApiError(
            message=f"Incorrect API key provided: {mask_key(key)}. You can find your API key at {OPENAI_KEYS_URL}.",
            code="invalid_api_key",
        ),
    )


def video_not_found(video_id: str, param: str = "video_id") -> Rejection:
    return Rejection(404, ApiError(message=f"No video found with id '{video_id}'.", param=param))


def file_not_found(file_id: str) -> Rejection:
    return Rejection(404, ApiError(message=f"No such File object: {file_id}", param="input_reference.file_id"))


def invalid_url(method: str, path: str) -> Rejection:
    return Rejection(404, ApiError(message=f"Invalid URL ({method} {path})"))


def model_not_found(model: str) -> Rejection:
    return Rejection(
        404,
        ApiError(
            message=f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found"
        ),
    )


def _retry_headers(seconds: float) -> dict[str, str]:
    return {"retry-after": str(max(0, math.ceil(seconds))), "retry-after-ms": str(max(0, round(seconds * 1000)))}


def rate_limited(retry_after_seconds: float) -> Rejection:
    return Rejection(
        429,
        ApiError(
            message=f"Rate limit reached for requests. Please try again in {retry_after_seconds:g}s.",
            type="rate_limit_error",
            code="rate_limit_exceeded",
        ),
        _retry_headers(retry_after_seconds),
    )


def too_many_running_tasks(retry_after_seconds: float) -> Rejection:
    return Rejection(
        429,
        ApiError(message="Too many running tasks", type="rate_limit_error", code="too_many_running_tasks"),
        _retry_headers(retry_after_seconds),
    )


def server_error(status: int) -> Rejection:
    return Rejection(
        status,
        ApiError(
            message="The server had an error while processing your request. Sorry about that!", type="server_error"
        ),
    )


def invalid_json() -> Rejection:
    return bad_request(
        ApiError(
            message=(
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
                "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"
            )
        )
    )


def invalid_content_type(content_type: str) -> Rejection:
    return bad_request(
        ApiError(
            message=(f"Invalid Content-Type header ({content_type}), expected multipart/form-data or application/json.")
        )
    )


def invalid_type(param: str, expected: str, got: str) -> ApiError:
    """`Invalid type for 'prompt': expected a string, but got an integer instead.`"""
    return ApiError(
        message=f"Invalid type for '{param}': expected {expected}, but got {got} instead.",
        param=param,
        code="invalid_type",
    )


def empty_string(param: str) -> ApiError:
    return ApiError(
        message=(
            f"Invalid '{param}': empty string. "
            "Expected a string with minimum length 1, but got an empty string instead."
        ),
        param=param,
        code="empty_string",
    )


def string_too_long(param: str, maximum: int, length: int) -> ApiError:
    return ApiError(
        message=(
            f"Invalid '{param}': string too long. Expected a string with maximum length {maximum}, "
            f"but got a string with length {length} instead."
        ),
        param=param,
        code="string_above_max_length",
    )


def integer_out_of_range(param: str, value: int, minimum: int, maximum: int) -> ApiError:
    if value < minimum:
        return ApiError(
            message=(
                f"Invalid '{param}': integer below minimum value. "
                f"Expected a value >= {minimum}, but got {value} instead."
            ),
            param=param,
            code="integer_below_min_value",
        )
    return ApiError(
        message=(
            f"Invalid '{param}': integer above maximum value. Expected a value <= {maximum}, but got {value} instead."
        ),
        param=param,
        code="integer_above_max_value",
    )


def exactly_one_of(param: str, options: tuple[str, str]) -> ApiError:
    return ApiError(
        message=f"Invalid '{param}': provide exactly one of '{options[0]}' or '{options[1]}'.",
        param=param,
        code="invalid_value",
    )


def unsupported_image(param: str, media_type: str) -> ApiError:
    """A reference that is not JPEG, PNG or WebP (the only formats the API takes)."""
    return invalid_value(param, media_type, ("image/jpeg", "image/png", "image/webp"))


def unreadable_image(param: str) -> ApiError:
    return ApiError(
        message=f"Invalid '{param}': the file is not a readable JPEG, PNG or WebP image.",
        param=param,
        code="invalid_value",
    )


def unreadable_image_url(param: str) -> ApiError:
    return ApiError(
        message=f"Invalid '{param}': expected a base64-encoded data URL of an image (data:image/png;base64,...).",
        param=param,
        code="invalid_value",
    )


def remote_url_unsupported(param: str, url: str) -> ApiError:
    """The sandbox is offline: it cannot fetch images from the internet (a real provider would)."""
    shown = url if len(url) <= 80 else url[:77] + "..."
    return ApiError(
        message=(
            f"Invalid '{param}': the offline sandbox cannot fetch '{shown}'. "
            "Send the image as an upload or as a data: URL."
        ),
        param=param,
        code="invalid_value",
    )


def not_ready(video_id: str, status: str) -> Rejection:
    return Rejection(
        404,
        ApiError(
            message=(
                f"Video '{video_id}' is not ready yet (status: {status}). "
                "Poll GET /v1/videos/{video_id} until its status is 'completed', then download."
            ),
            param="video_id",
        ),
    )


def failed_no_content(video_id: str) -> Rejection:
    return Rejection(404, ApiError(message=f"Video '{video_id}' failed; it has no content.", param="video_id"))


def content_expired(video_id: str) -> Rejection:
    return Rejection(
        404,
        ApiError(
            message=f"The content of video '{video_id}' has expired and can no longer be downloaded.",
            param="video_id",
            code="video_expired",
        ),
    )


def source_not_completed(video_id: str, status: str, action: str) -> Rejection:
    return bad_request(
        ApiError(
            message=f"Video '{video_id}' is {status}; only completed videos can be {action}.",
            param="video",
            code="invalid_video_status",
        )
    )


def delete_unfinished(video_id: str, status: str) -> Rejection:
    return bad_request(
        ApiError(
            message=f"Video '{video_id}' is {status}; only completed or failed videos can be deleted.",
            param="video_id",
            code="invalid_video_status",
        )
    )


def extension_unsupported(model: str) -> ApiError:
    return ApiError(
        message=f"Video extensions are not supported for model '{model}'.", param="video", code="unsupported_model"
    )


def extension_too_long(total: int, maximum: int) -> ApiError:
    return ApiError(
        message=(
            f"Invalid 'seconds': the extended video would be {total} seconds long; "
            f"videos can be extended up to {maximum} seconds in total."
        ),
        param="seconds",
        code="invalid_value",
    )


def extension_too_many_steps(video_id: str, maximum: int) -> ApiError:
    return ApiError(
        message=f"Video '{video_id}' has already been extended {maximum} times, the maximum.",
        param="video",
        code="invalid_value",
    )


def unreadable_video(param: str) -> ApiError:
    return ApiError(
        message=f"Invalid '{param}': the file is not a video that can be read.", param=param, code="invalid_value"
    )


def odd_video_size(param: str, width: int, height: int) -> ApiError:
    return ApiError(
        message=f"Invalid '{param}': {width}x{height} videos are not supported; width and height must be even.",
        param=param,
        code="invalid_value",
    )


def combination_not_allowed(model_name: str, seconds: int, size: str, model: ModelSpec) -> ApiError:
    """A duration and a size each legal, but not together (Veo 3.1: 1080p and 4K only at 8 s)."""
    at_size = [s for s in model.seconds if model.allows(s, size)]
    legal = ", ".join(f"'{s}'" for s in at_size)
    return ApiError(
        message=(
            f"Invalid 'seconds': {seconds} seconds is not available at {size} for model '{model_name}'. "
            f"At {size}, supported values are: {legal}."
        ),
        param="seconds",
        code="invalid_value",
    )
