"""Dependable plumbing under the video tools: job ledger, daily budget, polling policy, atomic downloads.

No MCP and no network here: the provider client and the tools call into these.
"""

from sora_mcp.jobs.budget import BudgetExceeded, BudgetSnapshot
from sora_mcp.jobs.downloads import (
    Body,
    DownloadError,
    DownloadResult,
    Fetch,
    IncompleteDownload,
    download_once,
    fetch_from,
    sha256_file,
)
from sora_mcp.jobs.ledger import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    JobKind,
    JobNotFound,
    JobRecord,
    JobStatus,
    Ledger,
    LedgerConflict,
    LedgerError,
    LedgerVersionError,
    SyncLedger,
    request_fingerprint,
)
from sora_mcp.jobs.polling import POLL_AFTER_HEADER, PollPolicy, RetrieveGate, poll_after_ms

__all__ = [
    "ACTIVE_STATUSES",
    "POLL_AFTER_HEADER",
    "TERMINAL_STATUSES",
    "Body",
    "BudgetExceeded",
    "BudgetSnapshot",
    "DownloadError",
    "DownloadResult",
    "Fetch",
    "IncompleteDownload",
    "JobKind",
    "JobNotFound",
    "JobRecord",
    "JobStatus",
    "Ledger",
    "LedgerConflict",
    "LedgerError",
    "LedgerVersionError",
    "PollPolicy",
    "RetrieveGate",
    "SyncLedger",
    "download_once",
    "fetch_from",
    "poll_after_ms",
    "request_fingerprint",
    "sha256_file",
]
