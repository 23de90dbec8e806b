"""OAuth 2.1 resource server: JWT access tokens from one configured issuer, checked with PyJWT.

PyJWT checks the signature against the issuer's JWKS (`PyJWKClient` fetches and caches it, and fetches again
for a key id it has not seen), `exp`/`nbf`, `iss` and the audience (this server's resource URL). Only
asymmetric algorithms are accepted, so neither `alg: none` nor an HMAC token keyed with the public key can
pass. Scopes are checked by the SDK's `RequireAuthMiddleware` (403 `insufficient_scope`).
"""

from __future__ import annotations

import logging
from typing import Any

import anyio.to_thread
import jwt
from mcp.server.auth.provider import AccessToken

logger = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY_SECONDS = 30
"""Clock skew allowed between the issuer and this server for `exp`/`nbf`/`iat`."""
MAX_TOKEN_CHARS = 16_384
JWKS_CACHE_SECONDS = 300


def _scopes(claims: dict[str, Any]) -> list[str]:
    """RFC 9068 `scope` (space separated), or the `scp` list some issuers use."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return scope.split()
    listed = claims.get("scp")
    if isinstance(listed, list):
        return [s for s in listed if isinstance(s, str)]
    return []


class JwtVerifier:
    """The SDK's `TokenVerifier` for JWTs of `issuer`, for `audience`; a refusal is `None` (401), never a raise."""

    def __init__(self, issuer: str, jwks_url: str, audience: str) -> None:
        self.issuer = issuer
        self.audience = audience
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=False, lifespan=JWKS_CACHE_SECONDS, timeout=10)

    def _decode(self, token: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        if header.get("alg") not in ALGORITHMS:
            raise jwt.InvalidAlgorithmError(f"algorithm {header.get('alg')!r} is not accepted")
        key = self._jwks.get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=list(ALGORITHMS),
            audience=self.audience,
            issuer=self.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
        return claims

    async def verify_token(self, token: str) -> AccessToken | None:
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        try:
            claims = await anyio.to_thread.run_sync(self._decode, token)
        except jwt.PyJWKClientConnectionError as exc:
            logger.warning("JWKS of %s unreachable, token refused: %s", self.issuer, exc)
            return None
        except (jwt.PyJWTError, ValueError) as exc:
            logger.info("JWT refused: %s", type(exc).__name__)
            return None
        subject = str(claims["sub"])
        client = claims.get("client_id") or claims.get("azp") or subject
        exp = claims.get("exp")
        return AccessToken(
            token=token,
            client_id=str(client),
            subject=subject,
            scopes=_scopes(claims),
            expires_at=int(exp) if isinstance(exp, int | float) else None,
            resource=self.audience,
            claims=claims,
        )
