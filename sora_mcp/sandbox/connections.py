"""Access to the TCP connection behind a request, so the sandbox can hang up without answering.

ASGI has no way to close a connection without a response (uvicorn turns that into a 500), yet "the request
reached the server but the answer was lost" is the fault that makes clients create and pay twice. So the
server's protocol class is subclassed to remember each connection's transport by its peer address, which is
the `client` of the ASGI scope.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

Peer = tuple[str, int]


class Transports:
    """Live transports by peer address (host, port)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_peer: dict[Peer, asyncio.BaseTransport] = {}

    def add(self, transport: asyncio.BaseTransport) -> None:
        peer = _peer(transport)
        if peer is not None:
            with self._lock:
                self._by_peer[peer] = transport

    def discard(self, transport: asyncio.BaseTransport) -> None:
        peer = _peer(transport)
        if peer is not None:
            with self._lock:
                if self._by_peer.get(peer) is transport:
                    del self._by_peer[peer]

    def abort(self, client: Any) -> bool:
        """Reset the connection of the ASGI scope's `client`; False when it is not known (already gone)."""
        if not client:
            return False
        with self._lock:
            transport = self._by_peer.get((str(client[0]), int(client[1])))
        if transport is None:
            return False
        if isinstance(transport, asyncio.WriteTransport):
            transport.abort()
        else:
            transport.close()
        return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_peer)


def _peer(transport: asyncio.BaseTransport) -> Peer | None:
    info = transport.get_extra_info("peername")
    if isinstance(info, tuple) and len(info) >= 2:
        return (str(info[0]), int(info[1]))
    return None


def protocol_class(transports: Transports) -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol, registering each connection's transport in `transports`."""

    class TrackedH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            transports.add(transport)

        def connection_lost(self, exc: Exception | None) -> None:
            transports.discard(self.transport)
            super().connection_lost(exc)

    return TrackedH11Protocol
