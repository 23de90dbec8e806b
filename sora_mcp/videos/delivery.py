"""How a client reaches a job's files: by path on this machine (stdio, the default), or by an address that a
remote transport hands out (HTTP: signed download links, `sora_mcp.http.links`)."""

from __future__ import annotations

from typing import Protocol

from sora_mcp.dialects.base import VideoVariant
from sora_mcp.jobs.ledger import JobRecord


def local_path(record: JobRecord, variant: VideoVariant) -> str | None:
    """The downloaded file of `variant`, if any."""
    return {"video": record.video_path, "thumbnail": record.thumbnail_path, "spritesheet": record.spritesheet_path}[
        variant
    ]


class Delivery(Protocol):
    """Remote delivery: the address a client uses for one downloaded file of a job of the current tenant."""

    @property
    def origin(self) -> str:
        """Scheme, host and port the addresses point at (an MCP App's CSP must allow it to load them)."""

    def address(self, record: JobRecord, variant: VideoVariant) -> str | None:
        """None when the file is not downloaded."""
