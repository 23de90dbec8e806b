"""An offline sandbox of the Videos API: real HTTP on loopback, real MP4s, the provider's rules and errors.

OpenAI retired the Sora API on 2026-09-24; the sandbox is what the product runs, demos and tests against
when no provider is configured. Every video it makes says it is a sandbox render.

    with SandboxServer(SandboxConfig(load_builtin("apiyi"), time_scale=0.05)) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test")
"""

from sora_mcp.sandbox.config import JOB_CREATING_ROUTES, ROUTES, Faults, RouteName, SandboxConfig
from sora_mcp.sandbox.render import NOTICE, WATERMARK
from sora_mcp.sandbox.runner import SandboxError, SandboxServer
from sora_mcp.sandbox.store import JobRecord, SandboxState

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
