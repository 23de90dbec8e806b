"""Who may reach the HTTP server: the auth mode chosen from the settings, and the Host/Origin allow-list.

A loopback bind may serve without auth only when asked (`--no-auth`); any other bind without a token file or
an OAuth issuer is refused before serving. Host and Origin are checked on every MCP request (the SDK's
DNS-rebinding protection): loopback names and the public URL's host by default, or the configured lists.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings

from sora_mcp.http.oauth import JwtVerifier
from sora_mcp.http.tokens import TokenFileVerifier
from sora_mcp.settings import Settings, SettingsError

MCP_PATH = "/mcp"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def public_url(settings: Settings) -> str:
    """The URL clients use to reach this server (no trailing slash)."""
    if settings.public_url:
        parts = urlsplit(settings.public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError(f"SORA_MCP_PUBLIC_URL='{settings.public_url}' is not an http(s) URL")
        return settings.public_url.rstrip("/")
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.port}"


def resource_url(settings: Settings) -> str:
    """This server's OAuth resource identifier: the JWT audience and the RFC 9728 `resource`."""
    return public_url(settings) + MCP_PATH


@dataclass(frozen=True)
class Access:
    """The SDK's auth arguments: both None when serving without auth."""

    auth: AuthSettings | None
    token_verifier: TokenVerifier | None


def access_for(settings: Settings) -> Access:
    """The auth mode the settings ask for; `SettingsError` (one line) when the combination cannot be served."""
    modes = [name for name, given in (("token file", settings.token_file), ("OAuth", settings.oauth_issuer)) if given]
    if len(modes) > 1:
        raise SettingsError("give either SORA_MCP_TOKEN_FILE or SORA_MCP_OAUTH_ISSUER, not both")
    if not modes:
        if not is_loopback(settings.host):
            raise SettingsError(
                f"refusing to serve {settings.host}:{settings.port} without auth: set SORA_MCP_TOKEN_FILE or "
                "SORA_MCP_OAUTH_ISSUER (only a loopback bind may use --no-auth)"
            )
        if not settings.no_auth:
            raise SettingsError(
                "no auth configured: set SORA_MCP_TOKEN_FILE or SORA_MCP_OAUTH_ISSUER, or pass --no-auth to serve "
                "this loopback bind to anyone on this machine"
            )
        return Access(None, None)
    if settings.no_auth:
        raise SettingsError(f"--no-auth contradicts the configured {modes[0]}; drop one")
    if settings.token_file is not None:
        if not settings.token_file.is_file():
            raise SettingsError(f"SORA_MCP_TOKEN_FILE '{settings.token_file}' is not a file")
        # The SDK wants an issuer even without OAuth; with no resource URL no metadata is published.
        auth = AuthSettings(issuer_url=public_url(settings), resource_server_url=None)  # type: ignore[arg-type]
        return Access(auth, TokenFileVerifier(settings.token_file))
    issuer = settings.oauth_issuer or ""
    if not settings.oauth_jwks_url:
        raise SettingsError("SORA_MCP_OAUTH_ISSUER needs SORA_MCP_OAUTH_JWKS_URL, the issuer's JWKS URL")
    auth = AuthSettings(
        issuer_url=issuer,  # type: ignore[arg-type]
        resource_server_url=resource_url(settings),  # type: ignore[arg-type]
        required_scopes=list(settings.oauth_scopes) or None,
        validate_token_resource=False,  # the verifier checks `aud` itself (PyJWT, audience=resource URL)
    )
    return Access(auth, JwtVerifier(issuer, settings.oauth_jwks_url, resource_url(settings)))


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection, always on: the configured allow-lists, else loopback and the public URL."""
    public = urlsplit(public_url(settings))
    hosts = list(settings.allowed_hosts) or [
        *(f"{name}:*" for name in LOOPBACK_NAMES),
        *LOOPBACK_NAMES,
        public.netloc,
    ]
    origins = list(settings.allowed_origins) or [
        *(f"http://{name}:*" for name in LOOPBACK_NAMES),
        f"{public.scheme}://{public.netloc}",
    ]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)
