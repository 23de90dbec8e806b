"""The key behind download links and sealed request state: one per deployment, shared by its replicas."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from sora_mcp.settings import Settings, SettingsError

logger = logging.getLogger(__name__)

SECRET_FILE = "link-secret"
MIN_SECRET_CHARS = 32


def link_secret(settings: Settings) -> str:
    """`SORA_MCP_LINK_SECRET`, else `SORA_MCP_HOME/link-secret`, created once (32 random bytes, mode 0600).

    Replicas that share SORA_MCP_HOME share the file; replicas on separate disks must all be given the same
    SORA_MCP_LINK_SECRET, or each one's links and request state fail on the others.
    """
    if settings.link_secret is not None:
        if len(settings.link_secret) < MIN_SECRET_CHARS:
            raise SettingsError(
                f"SORA_MCP_LINK_SECRET must be at least {MIN_SECRET_CHARS} characters; make one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return settings.link_secret
    path = settings.home / SECRET_FILE
    settings.home.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        draft = path.with_name(f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(draft, path)  # whole or not at all: a replica starting at the same time keeps the first key
            logger.warning("generated a download-link key in %s; give every replica the same one", path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    text = Path(path).read_text().strip()
    if len(text) < MIN_SECRET_CHARS:
        raise SettingsError(f"{path} holds no usable key; delete it to have a new one generated")
    return text


def derived_key(secret: str, purpose: str) -> bytes:
    """A separate key per use of the one secret (links, request state)."""
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()
