"""Provider dialects: one module per wire format, one interface (`Dialect`).

Each maps the canonical `VideoRequest` to its wire (`create_body`) and its answers back to `JobSnapshot`
(`parse_job`), and says what the provider cannot do (`can_list`, `can_delete`, `can_remix`, `can_extend`,
`has_variants`). The profile's `Catalog.dialect` picks one (`dialect_for`).

- `openai`: today's wire (multipart, string `seconds`, `size`, `input_reference`, `variant` downloads).
- `openrouter`: JSON, integer `duration`, `size` or `resolution` + `aspect_ratio`, `frame_images`, 202,
  no progress, `usage.cost`, no list/delete/remix.
- `new-api`: the OpenAI shape as New-API gateways serve it (string `seconds`, `metadata.resolution`,
  `task_…` ids with a `task_id` alias, coarse progress), no list.
"""

from __future__ import annotations

from sora_mcp.dialects.base import (
    ContentRequest,
    Dialect,
    JobSnapshot,
    ProviderStatus,
    Unusable,
    VideoRequest,
    VideoVariant,
    WireBody,
    file_stem,
)
from sora_mcp.dialects.new_api import NewApiDialect
from sora_mcp.dialects.openai import OpenAIDialect
from sora_mcp.dialects.openrouter import OpenRouterDialect

DIALECTS: dict[str, Dialect] = {d.name: d for d in (OpenAIDialect(), OpenRouterDialect(), NewApiDialect())}


def dialect_for(name: str | None) -> Dialect:
    """The dialect called `name` (None: openai); an unknown name is a `ValueError` naming the known ones."""
    try:
        return DIALECTS[name or "openai"]
    except KeyError:
        raise ValueError(f"unknown dialect '{name}'; known: {', '.join(DIALECTS)}") from None


__all__ = [
    "DIALECTS",
    "ContentRequest",
    "Dialect",
    "JobSnapshot",
    "NewApiDialect",
    "OpenAIDialect",
    "OpenRouterDialect",
    "ProviderStatus",
    "Unusable",
    "VideoRequest",
    "VideoVariant",
    "WireBody",
    "dialect_for",
    "file_stem",
]
