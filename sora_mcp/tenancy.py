"""Who a request acts for: the tenant that owns its jobs, files and budget.

In stdio mode every call acts for the one local tenant. Over HTTP the tenant comes from the verified access
token (a bearer token from the token file, or an OAuth JWT) that the SDK's auth middleware puts in its
context; nothing a client sends in a tool's arguments can choose it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from mcp.server.auth.middleware.auth_context import get_access_token

TENANT_CLAIM = "sora_mcp_tenant"
"""The `AccessToken.claims` key naming the tenant (set by the bearer-token verifier, or a JWT claim)."""
BUDGET_CLAIM = "sora_mcp_daily_budget_usd"
"""The `AccessToken.claims` key carrying the tenant's own daily budget, when its token grants one."""

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,47}")


@dataclass(frozen=True)
class Tenant:
    """A tenant id and, when its credential sets one, its own daily budget (else the server's)."""

    id: str
    daily_budget_usd: float | None = None

    @property
    def is_local(self) -> bool:
        return self.id == LOCAL.id

    @property
    def folder(self) -> str:
        """A file-system-safe folder name for this tenant's files: readable ids as they are, others hashed."""
        if _SAFE.fullmatch(self.id) and self.id not in {".", ".."}:
            return self.id
        return "t-" + hashlib.sha256(self.id.encode()).hexdigest()[:24]


LOCAL = Tenant("local")


_acting_for: ContextVar[Tenant | None] = ContextVar("sora_mcp_acting_for", default=None)


@contextmanager
def acting_for(tenant: Tenant) -> Iterator[Tenant]:
    """Serve the enclosed work for `tenant`: for requests whose credential is not a token (a signed download
    link names its tenant) and for tests that stand in for two tenants in one process."""
    reset = _acting_for.set(tenant)
    try:
        yield tenant
    finally:
        _acting_for.reset(reset)


def current_tenant() -> Tenant:
    """The tenant of the request being served: set by `acting_for`, else from the verified token, else local."""
    chosen = _acting_for.get()
    if chosen is not None:
        return chosen
    token = get_access_token()
    if token is None:
        return LOCAL
    claims = token.claims or {}
    named = claims.get(TENANT_CLAIM)
    if isinstance(named, str) and named:
        tenant_id = named
    else:
        issuer = claims.get("iss")
        subject = token.subject or token.client_id
        tenant_id = f"{issuer}#{subject}" if isinstance(issuer, str) and issuer else subject
    budget = claims.get(BUDGET_CLAIM)
    daily = float(budget) if isinstance(budget, int | float) and not isinstance(budget, bool) else None
    return Tenant(tenant_id, daily)
