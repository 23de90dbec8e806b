"""`sora-mcp serve --transport http`: the app from `app.build_http_app`, served by uvicorn."""

from __future__ import annotations

import logging

import uvicorn
from starlette.types import ASGIApp

from sora_mcp.http.access import MCP_PATH, public_url
from sora_mcp.http.app import build_http_app
from sora_mcp.http.limits import BoundedH11Protocol
from sora_mcp.settings import Settings

logger = logging.getLogger("sora_mcp")

KEEP_ALIVE_SECONDS = 5
GRACEFUL_SHUTDOWN_SECONDS = 10
MAX_CONNECTIONS = 512
"""Past this many open connections or requests in flight uvicorn answers 503 instead of taking on more work."""


def uvicorn_config(settings: Settings, app: ASGIApp) -> uvicorn.Config:
    """How uvicorn serves `app`: the bounded h11 protocol, short keep-alive, no websockets, no proxy headers."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=BoundedH11Protocol,
        ws="none",
        lifespan="on",
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        log_level=settings.log_level.lower(),
        access_log=settings.log_level == "DEBUG",
    )


def serve_http(settings: Settings) -> int:
    config = uvicorn_config(settings, build_http_app(settings).app)
    mode = "OAuth" if settings.oauth_issuer else "bearer tokens" if settings.token_file else "no auth (loopback)"
    logger.warning(
        "serving streamable HTTP at %s%s (bind %s:%d, %s); backend %s, profile %s",
        public_url(settings),
        MCP_PATH,
        settings.host,
        settings.port,
        mode,
        settings.backend,
        settings.profile,
    )
    uvicorn.Server(config).run()
    return 0
