"""The MCP endpoint holds no sessions, and says so instead of pretending.

In stateless mode the SDK never issues an `Mcp-Session-Id` but ignores one it is sent, and it answers a GET with
an SSE stream on which nothing can ever arrive (no session to route to), held open as long as the client likes.
Here a request naming a session gets 404 (the spec's answer for a session the server does not know: the client
starts afresh, without one) and a GET gets 405 (the spec's answer for a server offering no GET stream).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

SESSION_HEADER = "mcp-session-id"


def _error(message: str) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}


class NoSessions:
    """ASGI middleware for the MCP path `path`: 404 for any session id, 405 for GET."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/") == self.path:
            if scope["method"] == "GET":
                answer = JSONResponse(
                    _error("This server offers no GET stream: POST each request."),
                    status_code=405,
                    headers={"Allow": "POST"},
                )
                await answer(scope, receive, send)
                return
            if SESSION_HEADER in Headers(scope=scope):
                answer = JSONResponse(
                    _error("Session not found: this server keeps no sessions; send requests without one."),
                    status_code=404,
                )
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)
