"""Signed, short-lived download links: tenant + job + variant + expiry, signed with `itsdangerous`.

The link is the credential of a download (a host fetching a video has no bearer token to send), so it names
its tenant and expires soon. The key is shared by every replica (`SORA_MCP_LINK_SECRET`, else a file under
SORA_MCP_HOME, see `secret.link_secret`), so any replica honours a link any other issued.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args
from urllib.parse import quote, urlsplit

from itsdangerous import BadSignature, URLSafeSerializer

from sora_mcp.dialects.base import VideoVariant
from sora_mcp.jobs.ledger import JobRecord
from sora_mcp.tenancy import Tenant, current_tenant
from sora_mcp.videos.delivery import local_path

DOWNLOAD_PREFIX = "/downloads"
_SALT = "sora-mcp/download-link/v1"
_VARIANTS: tuple[str, ...] = get_args(VideoVariant)


class LinkRefused(Exception):
    """A link that is forged, malformed or expired; `status` is the HTTP answer (403 or 410)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Grant:
    """What a valid link lets its holder read."""

    tenant: Tenant
    job_id: str
    variant: VideoVariant
    expires_at: int


class LinkSigner:
    """Issues and checks download links under `secret`, valid `ttl_seconds` from issue."""

    def __init__(self, secret: str, public_url: str, ttl_seconds: float) -> None:
        self._serializer = URLSafeSerializer(secret, salt=_SALT)
        self.public_url = public_url.rstrip("/")
        self.ttl_seconds = ttl_seconds

    def sign(self, tenant: Tenant, job_id: str, variant: VideoVariant, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self.ttl_seconds)
        payload = {"t": tenant.id, "b": tenant.daily_budget_usd, "j": job_id, "v": variant, "e": expires}
        return self._serializer.dumps(payload)

    def url(self, tenant: Tenant, job_id: str, variant: VideoVariant, filename: str) -> str:
        token = self.sign(tenant, job_id, variant)
        return f"{self.public_url}{DOWNLOAD_PREFIX}/{token}/{quote(filename)}"

    def check(self, token: str, now: float | None = None) -> Grant:
        try:
            payload: Any = self._serializer.loads(token)
        except BadSignature:
            raise LinkRefused(403, "This download link is not valid (its signature does not match).") from None
        if not isinstance(payload, dict) or not _well_formed(payload):
            raise LinkRefused(403, "This download link is not valid.")
        if (time.time() if now is None else now) > payload["e"]:
            raise LinkRefused(
                410,
                "This download link has expired. Call get_video_status or download_video again for a fresh one.",
            )
        budget = payload["b"]
        return Grant(Tenant(payload["t"], budget), payload["j"], payload["v"], payload["e"])


def _well_formed(payload: dict[str, Any]) -> bool:
    budget = payload.get("b")
    return (
        isinstance(payload.get("t"), str)
        and isinstance(payload.get("j"), str)
        and payload.get("v") in _VARIANTS
        and isinstance(payload.get("e"), int)
        and (budget is None or isinstance(budget, int | float))
    )


class SignedLinks:
    """`Delivery` over HTTP: each downloaded file as a signed link for the current tenant."""

    def __init__(self, signer: LinkSigner) -> None:
        self.signer = signer

    @property
    def origin(self) -> str:
        parts = urlsplit(self.signer.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    def address(self, record: JobRecord, variant: VideoVariant) -> str | None:
        path = local_path(record, variant)
        if path is None:
            return None
        return self.signer.url(current_tenant(), record.local_id, variant, Path(path).name)
