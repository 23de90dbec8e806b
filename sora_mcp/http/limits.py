"""Bounds on what one request may cost: its headers and body must arrive in time and the body must be small.

uvicorn has no deadline for a request's headers (a slowloris client sending a byte now and then holds its
connection forever) and none for its body; `BoundedH11Protocol` closes a connection whose headers are not
complete in `HEADER_TIMEOUT_SECONDS` (408), and `RequestBounds` answers 408 to a body not complete in
`BODY_TIMEOUT_SECONDS` and 413 to one over `max_body_bytes`, before any route sees it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import anyio
import h11
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_SECONDS = 10.0
BODY_TIMEOUT_SECONDS = 30.0
MAX_BODY_BYTES = 4 * 1024 * 1024
"""The SDK's own limit for an MCP request (`DEFAULT_MAX_REQUEST_BODY_SIZE`), for every route."""

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    b"content-length: 47\r\n\r\nThe request's headers did not arrive in time.\r\n"
)


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers (from the connection, or the end of
    the previous response on a kept-alive one)."""

    header_timeout = HEADER_TIMEOUT_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_late(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.write(_TIMEOUT_RESPONSE)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


class RequestBounds:
    """ASGI middleware: the whole body read first, within a deadline and a size limit, then replayed."""

    def __init__(
        self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES, body_timeout: float = BODY_TIMEOUT_SECONDS
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _refuse(413, f"The request body is over {self.max_body_bytes} bytes.", scope, receive, send)
            return
        body = bytearray()
        held: deque[Message] = deque()
        with anyio.move_on_after(self.body_timeout) as deadline:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    held.append(message)
                    break
                body.extend(message.get("body", b""))
                if len(body) > self.max_body_bytes:
                    await _refuse(413, f"The request body is over {self.max_body_bytes} bytes.", scope, receive, send)
                    return
                if not message.get("more_body", False):
                    break
        if deadline.cancelled_caught:
            await _refuse(408, "The request body did not arrive in time.", scope, receive, send)
            return
        held.appendleft({"type": "http.request", "body": bytes(body), "more_body": False})

        async def replay() -> Message:
            return held.popleft() if held else await receive()

        await self.app(scope, replay, send)


async def _refuse(status: int, message: str, scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse(message, status_code=status, headers={"Connection": "close"})(scope, receive, send)
