"""What the job ledger refuses, each with the way out: one family under `LedgerError` (stage `storage`)."""

from __future__ import annotations

from sora_mcp.errors import ErrorInfo, SoraMcpError


class LedgerError(SoraMcpError):
    """The ledger cannot do what was asked; the message says why and how to recover."""

    stage = "storage"
    code = "ledger_error"

    def problem(self) -> ErrorInfo:
        return ErrorInfo(stage="storage", message=str(self), code=self.code)


class JobNotFound(LedgerError, LookupError):
    """No job with that local id or video id for this tenant (another tenant's job is not found either)."""


class LedgerUnavailable(LedgerError):
    """The database is locked, corrupt or unreachable: named (password hidden), with the way out, data kept."""

    code = "ledger_unavailable"


class LedgerConflict(LedgerError):
    """The change contradicts what is recorded (a second video id for one job, failing a billed job, an
    idempotency key reused for another request)."""


class LedgerVersionError(LedgerError):
    """The database was written by a newer sora-mcp whose schema this version does not know."""
