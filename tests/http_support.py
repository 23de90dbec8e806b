"""A real uvicorn server on a free 127.0.0.1 port serving the HTTP app, and clients for it (SDK and raw httpx)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from sora_mcp.http.app import HttpApp, build_http_app
from sora_mcp.http.serve import uvicorn_config
from sora_mcp.settings import Settings

ERAS = ("legacy", "auto")
"""The protocol eras a test runs in: the initialize handshake, and the stateless 2026-07-28 core (`auto` finds it
with `server/discover`, so the capabilities are the server's own)."""


@dataclass
class RunningHttp:
    url: str
    """http://127.0.0.1:<port> (the MCP endpoint is `mcp_url`)."""
    built: HttpApp
    settings: Settings
    uvicorn: uvicorn.Server

    @property
    def mcp_url(self) -> str:
        return self.url + "/mcp"


def http_settings(home: Path, port: int, env: Mapping[str, str]) -> Settings:
    values = {
        "SORA_MCP_HOME": str(home / "data"),
        "SORA_MCP_OUTPUT_DIR": str(home / "out"),
        "SORA_MCP_ALLOWED_DIRS": str(home),
        "SORA_MCP_SANDBOX_TIME_SCALE": "0.05",
        "SORA_MCP_TRANSPORT": "http",
        "SORA_MCP_PORT": str(port),
        **env,
    }
    return Settings.resolve(env=values, user_home=home)


@contextmanager
def http_server(home: Path, env: Mapping[str, str] | None = None, **tweaks: Any) -> Iterator[RunningHttp]:
    """Serve `build_http_app` for these settings in a background thread until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = http_settings(home, port, env or {})
    built = build_http_app(settings)
    config = uvicorn_config(settings, built.app)
    config.log_config = None
    for name, value in tweaks.items():
        setattr(config, name, value)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the HTTP server stopped while starting"
        assert time.monotonic() < deadline, "the HTTP server did not start"
        time.sleep(0.01)
    try:
        yield RunningHttp(url=f"http://127.0.0.1:{port}", built=built, settings=settings, uvicorn=server)
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@asynccontextmanager
async def mcp_client(url: str, mode: str, token: str | None = None, **options: Any) -> AsyncIterator[Client]:
    """The SDK's own streamable-HTTP client, in `mode` ('legacy' or a 2026-07-28 pin), with a bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode, **options) as client,
    ):
        yield client
