"""Which provider answers: the embedded sandbox (default without a key) or a real OpenAI-compatible URL.

Started lazily, on the first call that needs it, so `tools/list` and `validate_params` never pay for
importing `openai` or starting the sandbox's HTTP server; started once, then shared by every call.

The embedded sandbox keeps its jobs and renders under `SORA_MCP_HOME/sandbox`, so a job created by one server
process can be retrieved, downloaded, remixed or deleted by the next (hosts that start a process per tool call).
Each process still has its own random API key: the jobs are not tied to it.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import anyio
import anyio.to_thread

from sora_mcp.runtime import Runtime

if TYPE_CHECKING:
    from sora_mcp.sandbox import SandboxServer
    from sora_mcp.videos.provider import VideoProvider

logger = logging.getLogger(__name__)


@dataclass
class Connection:
    provider: VideoProvider
    label: str
    """'sandbox' or 'provider (<base url>)': every answer says which backend served it."""
    base_url: str
    sandbox: SandboxServer | None = None

    def asset_path(self, video_id: str, variant: Literal["video", "thumbnail", "spritesheet"]) -> Path | None:
        """The embedded sandbox's finished file for a job (hard-link it, don't copy it); None on a provider."""
        return self.sandbox.asset_path(video_id, variant) if self.sandbox is not None else None


class Backend:
    """Owns the provider client (and, on the sandbox backend, the sandbox server) for one MCP server."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._connection: Connection | None = None
        self._lock = anyio.Lock()

    @property
    def started(self) -> bool:
        return self._connection is not None

    async def connect(self) -> Connection:
        async with self._lock:
            if self._connection is None:
                self._connection = await self._start()
            return self._connection

    async def _start(self) -> Connection:
        from sora_mcp.videos.provider import VideoProvider

        settings = self._runtime.settings
        if settings.backend == "provider":
            assert settings.api_key and settings.base_url  # Settings.resolve guarantees both
            dialect = self._runtime.dialect
            provider = VideoProvider.connect(base_url=settings.base_url, api_key=settings.api_key, dialect=dialect)
            logger.info("provider backend at %s (%s dialect)", settings.base_url, dialect.name)
            return Connection(provider, self._runtime.backend_label, settings.base_url)

        from sora_mcp.dialects import dialect_for
        from sora_mcp.sandbox import SandboxConfig, SandboxServer

        token = "sk-sandbox-" + secrets.token_hex(16)  # a per-process key: nothing else can use the sandbox
        # The embedded sandbox speaks the catalog's own dialect (SandboxConfig.dialect None), so the client does too.
        speaks = "dialect" in SandboxConfig.__dataclass_fields__
        dialect = self._runtime.dialect if speaks else dialect_for("openai")
        config = SandboxConfig(
            catalog=self._runtime.catalog,
            api_key=token,
            time_scale=settings.sandbox_time_scale,
            storage_dir=settings.home / "sandbox",
        )
        server = SandboxServer(config)
        await anyio.to_thread.run_sync(server.start)
        logger.info("embedded sandbox listening on %s", server.base_url)
        provider = VideoProvider.connect(base_url=server.base_url, api_key=token, dialect=dialect)
        return Connection(provider, "sandbox", server.base_url, sandbox=server)

    async def close(self) -> None:
        async with self._lock:
            connection, self._connection = self._connection, None
        if connection is None:
            return
        await connection.provider.close()
        if connection.sandbox is not None:
            await anyio.to_thread.run_sync(connection.sandbox.stop)
