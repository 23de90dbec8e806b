"""The Videos API's error shape and its exact messages, shared by the sandbox and by `validate_params`.

One source for the wording means an agent sees the same sentence whether the sandbox, the validator or a
real provider rejected a request, and tests can compare bodies field by field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

ErrorType = Literal[
    "invalid_request_error", "authentication_error", "not_found_error", "rate_limit_error", "server_error"
]

REFERENCE_SIZE_MISMATCH = "Inpaint image must match the requested width and height"
INPUT_MODERATION = (
    "The request is blocked by our moderation system when checking inputs. "
    "Please ensure your request does not include images of real people or prohibited content."
)
OUTPUT_MODERATION = "Your request was blocked by our moderation system."


class ApiError(BaseModel):
    """The body inside `{"error": ...}`: what the provider said, about which parameter, with which code."""

    model_config = ConfigDict(frozen=True)

    message: str
    type: ErrorType = "invalid_request_error"
    param: str | None = None
    code: str | None = None

    def body(self) -> dict[str, Any]:
        """The whole JSON body as the API sends it."""
        return {"error": self.model_dump()}


def quote_list(values: Sequence[object], conjunction: Literal["and", "or"] = "and") -> str:
    """`'4', '8', and '12'` / `'a' and 'b'` / `'a'`: the API's own way of listing values."""
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 1:
        return "".join(quoted)
    if len(quoted) == 2:
        return f"{quoted[0]} {conjunction} {quoted[1]}"
    return ", ".join(quoted[:-1]) + f", {conjunction} {quoted[-1]}"


def invalid_value(param: str, value: object, supported: Sequence[object]) -> ApiError:
    """`Invalid value: '10'. Supported values are: '4', '8', and '12'.`"""
    return ApiError(
        message=f"Invalid value: '{value}'. Supported values are: {quote_list(supported)}.",
        param=param,
        code="invalid_value",
    )


def invalid_seconds_type(supported: Sequence[object], got: str = "an integer") -> ApiError:
    """The 400 the official API gives for `"seconds": 8` in JSON."""
    return ApiError(
        message=(f"Invalid type for 'seconds': expected one of {quote_list(supported, 'or')}, but got {got} instead."),
        param="seconds",
        code="invalid_type",
    )


def unknown_parameter(name: str) -> ApiError:
    return ApiError(message=f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")


def missing_parameter(name: str) -> ApiError:
    return ApiError(message=f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter")


def reference_size_mismatch() -> ApiError:
    return ApiError(message=REFERENCE_SIZE_MISMATCH)


def parse_error_body(body: object) -> ApiError | None:
    """Read an error from either the official shape or the gateway's `{"message", "data": {"error"}}` wrapper."""
    if not isinstance(body, dict):
        return None
    inner: object = body.get("error")
    if not isinstance(inner, dict):
        data = body.get("data")
        inner = data.get("error") if isinstance(data, dict) else None
    if not isinstance(inner, dict) or not isinstance(inner.get("message"), str):
        return None
    error_type = inner.get("type")
    known: tuple[str, ...] = (
        "invalid_request_error",
        "authentication_error",
        "not_found_error",
        "rate_limit_error",
        "server_error",
    )
    param = inner.get("param")
    code = inner.get("code")
    return ApiError(
        message=inner["message"],
        type=error_type if isinstance(error_type, str) and error_type in known else "invalid_request_error",  # type: ignore[arg-type]
        param=param if isinstance(param, str) else None,
        code=code if isinstance(code, str) else None,
    )
