"""What every tool needs at run time, created once when the server is built (not per call)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sora_mcp.catalog import Catalog, active_catalog
from sora_mcp.settings import Settings

if TYPE_CHECKING:
    from sora_mcp.dialects import Dialect
    from sora_mcp.live_catalog import LiveCatalog


@dataclass
class Runtime:
    """Settings plus the catalog they select; the tools' single source of configuration.

    `catalog` is read at call time by every tool: for a live catalog (`live`, the OpenRouter profile on the
    provider backend) the server replaces it when the provider's listing changes.
    """

    settings: Settings
    catalog: Catalog
    today: dt.date
    live: LiveCatalog | None = None

    @classmethod
    def create(cls, settings: Settings, today: dt.date | None = None) -> Runtime:
        day = today or dt.datetime.now(dt.UTC).date()
        from sora_mcp.live_catalog import LiveCatalog, live_enabled

        if live_enabled(settings):
            live = LiveCatalog(settings, day)
            return cls(settings=settings, catalog=live.initial(), today=day, live=live)
        catalog = active_catalog(
            settings.profile,
            settings.catalog,
            base_url=settings.base_url,
            azure_deployment=settings.azure_deployment,
            today=day,
        )
        return cls(settings=settings, catalog=catalog, today=day)

    def scrub(self, text: str) -> str:
        """`text` without the configured key or anything shaped like a credential: every way out uses this."""
        from sora_mcp.redaction import redact

        return redact(text, [self.settings.api_key] if self.settings.api_key else [])

    @property
    def dialect(self) -> Dialect:
        """The wire format of the active profile (`Catalog.dialect`)."""
        from sora_mcp.dialects import dialect_for

        return dialect_for(self.catalog.dialect)

    @property
    def backend_label(self) -> str:
        """Which backend serves answers, as every result says it."""
        if self.settings.backend == "sandbox":
            return "sandbox"
        return f"provider ({self.settings.base_url})"
