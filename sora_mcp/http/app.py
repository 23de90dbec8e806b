"""The HTTP app factory: one `Settings` in, one ASGI app out (MCP at /mcp, /healthz, signed downloads).

Stateless streamable HTTP: every request stands alone (no session held in this process), so any replica can
answer any request. What a request carries across replicas is sealed with the deployment's shared key:
download links (`links`) and the 2026-07-28 request state (`RequestStateSecurity`), which by default the SDK
seals with a per-process key that another replica could not open.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mcp.server.auth.routes import create_protected_resource_routes
from mcp.server.request_state import RequestStateSecurity
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from sora_mcp import __version__
from sora_mcp.http.access import MCP_PATH, access_for, public_url, transport_security
from sora_mcp.http.downloads import download_route
from sora_mcp.http.limits import RequestBounds
from sora_mcp.http.links import LinkSigner, SignedLinks
from sora_mcp.http.secret import derived_key, link_secret
from sora_mcp.http.stateless import NoSessions
from sora_mcp.runtime import Runtime
from sora_mcp.server import build_server
from sora_mcp.settings import Settings
from sora_mcp.videos.backend import Backend
from sora_mcp.videos.service import VideoService

logger = logging.getLogger(__name__)

ROOT_METADATA_PATH = "/.well-known/oauth-protected-resource"


@dataclass
class HttpApp:
    """The ASGI app to serve and the parts tests and the runner look at."""

    app: ASGIApp
    starlette: Starlette
    signer: LinkSigner
    service: VideoService


def build_http_app(settings: Settings, runtime: Runtime | None = None) -> HttpApp:
    """Build the app for `settings`; `SettingsError` (one line) for a bind that would serve without auth."""
    base = public_url(settings)
    access = access_for(settings)
    runtime = runtime or Runtime.create(settings)
    service = VideoService(runtime, Backend(runtime))
    secret = link_secret(settings)
    signer = LinkSigner(secret, base, settings.link_ttl_seconds)
    server = build_server(
        settings,
        runtime,
        service=service,
        delivery=SignedLinks(signer),
        auth=access.auth,
        token_verifier=access.token_verifier,
        request_state_security=RequestStateSecurity(keys=[derived_key(secret, "mcp-request-state")]),
    )
    routes: list[Route] = [Route("/healthz", _healthz, methods=["GET", "HEAD"]), download_route(signer, service)]
    auth = access.auth
    if auth is not None and auth.resource_server_url is not None:
        # RFC 9728 puts the metadata at /.well-known/oauth-protected-resource/mcp (the SDK serves that); clients
        # that ask at the bare path get the same document.
        sdk_route = create_protected_resource_routes(
            auth.resource_server_url, [auth.issuer_url], scopes_supported=auth.required_scopes
        )[0]
        routes.append(Route(ROOT_METADATA_PATH, sdk_route.endpoint, methods=["GET", "OPTIONS"]))
    for route in routes:
        server.custom_route(route.path, methods=sorted(route.methods or ()))(route.endpoint)
    starlette = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        transport_security=transport_security(settings),
        host=settings.host,
    )
    return HttpApp(
        app=RequestBounds(NoSessions(starlette, MCP_PATH)), starlette=starlette, signer=signer, service=service
    )


async def _healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok", "version": __version__})
