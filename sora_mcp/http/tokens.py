"""Bearer tokens from a file: each line a token's SHA-256, its tenant and optionally that tenant's daily budget.

The file holds hashes only, so reading it (a backup, a config repo) grants nothing. A presented token is hashed
and compared with every entry in constant time (`hmac.compare_digest`); the file is re-read when it changes, so
adding or revoking a token needs no restart.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from mcp.server.auth.provider import AccessToken

from sora_mcp.settings import SettingsError
from sora_mcp.tenancy import BUDGET_CLAIM, TENANT_CLAIM

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "smcp_"
HASH_PREFIX = "sha256:"
MAX_TOKEN_CHARS = 512
"""Longer presented tokens are refused before hashing: no entry can match them."""


@dataclass(frozen=True)
class TokenEntry:
    """One line of the token file."""

    digest: bytes
    tenant: str
    daily_budget_usd: float | None = None

    def line(self) -> str:
        budget = "" if self.daily_budget_usd is None else f" {self.daily_budget_usd:g}"
        return f"{HASH_PREFIX}{self.digest.hex()} {self.tenant}{budget}"


def digest_of(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def mint(tenant: str, daily_budget_usd: float | None = None) -> tuple[str, TokenEntry]:
    """A new random token (shown once) and the entry that admits it."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, TokenEntry(digest_of(token), tenant, daily_budget_usd)


def parse_line(line: str, where: str) -> TokenEntry | None:
    """`sha256:<64 hex> <tenant> [<daily budget USD>]`; blank lines and `#` comments are skipped."""
    text = line.split("#", 1)[0].strip()
    if not text:
        return None
    words = text.split()
    if len(words) not in (2, 3) or not words[0].startswith(HASH_PREFIX):
        raise SettingsError(f"{where}: expected 'sha256:<hex> <tenant> [<daily budget USD>]'")
    hex_digest = words[0].removeprefix(HASH_PREFIX)
    try:
        digest = bytes.fromhex(hex_digest)
    except ValueError:
        digest = b""
    if len(digest) != hashlib.sha256().digest_size:
        raise SettingsError(f"{where}: the hash is not 64 hexadecimal digits")
    budget: float | None = None
    if len(words) == 3:
        try:
            budget = float(words[2])
        except ValueError:
            budget = -1.0
        if not 0 <= budget < float("inf"):
            raise SettingsError(f"{where}: the daily budget '{words[2]}' is not a number of US dollars, 0 or more")
    return TokenEntry(digest, words[1], budget)


def read_entries(path: Path) -> list[TokenEntry]:
    """Every entry of the file; `SettingsError` naming the line when one cannot be used."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"SORA_MCP_TOKEN_FILE '{path}' cannot be read: {exc.strerror}") from None
    entries = [parse_line(line, f"{path}:{number}") for number, line in enumerate(text.splitlines(), 1)]
    return [entry for entry in entries if entry is not None]


class TokenFileVerifier:
    """The SDK's `TokenVerifier` for the token file: a match becomes an `AccessToken` naming the tenant."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._entries: list[TokenEntry] = []
        self._load()

    def _load(self) -> None:
        stat = self.path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._entries = read_entries(self.path)
            self._stamp = stamp
            logger.info("token file %s: %d token(s)", self.path, len(self._entries))

    def _current(self) -> list[TokenEntry]:
        try:
            self._load()
        except (OSError, SettingsError) as exc:  # keep the last good file rather than lock everyone out
            logger.warning("token file not re-read, the previous entries stay in force: %s", exc)
        return self._entries

    async def verify_token(self, token: str) -> AccessToken | None:
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        presented = digest_of(token)
        found: TokenEntry | None = None
        for entry in self._current():  # no early exit: every entry is compared
            if hmac.compare_digest(presented, entry.digest) and found is None:
                found = entry
        if found is None:
            return None
        claims: dict[str, object] = {TENANT_CLAIM: found.tenant}
        if found.daily_budget_usd is not None:
            claims[BUDGET_CLAIM] = found.daily_budget_usd
        return AccessToken(
            token=HASH_PREFIX + presented.hex(),
            client_id=found.tenant,
            subject=found.tenant,
            scopes=[],
            claims=claims,
        )
