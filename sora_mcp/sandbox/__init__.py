"""An offline sandbox of the Videos API: real HTTP on loopback, real MP4s, the provider's rules and errors.

OpenAI retired the Sora API on 2026-09-24; the sandbox is what the product runs, demos and tests against
when no provider is configured. Every video it makes says it is a sandbox render.

    with SandboxServer(SandboxConfig(load_builtin("apiyi"), time_scale=0.05)) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sora_mcp.sandbox.config import JOB_CREATING_ROUTES, ROUTES, Faults, RouteName, SandboxConfig
    from sora_mcp.sandbox.render import NOTICE, WATERMARK
    from sora_mcp.sandbox.runner import SandboxError, SandboxServer
    from sora_mcp.sandbox.store import JobRecord, SandboxState

# Loaded on first use: the renderer pulls in PyAV and NumPy, which `sora-mcp serve` must not pay for at start-up.
_HOMES = {
    "JOB_CREATING_ROUTES": "config",
    "ROUTES": "config",
    "Faults": "config",
    "RouteName": "config",
    "SandboxConfig": "config",
    "NOTICE": "render",
    "WATERMARK": "render",
    "SandboxError": "runner",
    "SandboxServer": "runner",
    "JobRecord": "store",
    "SandboxState": "store",
}


def __getattr__(name: str) -> Any:
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module 'sora_mcp.sandbox' has no attribute {name!r}")
    return getattr(importlib.import_module(f"sora_mcp.sandbox.{module}"), name)


__all__ = [
    "JOB_CREATING_ROUTES",
    "NOTICE",
    "ROUTES",
    "WATERMARK",
    "Faults",
    "JobRecord",
    "RouteName",
    "SandboxConfig",
    "SandboxError",
    "SandboxServer",
    "SandboxState",
]
