"""Dependable plumbing under the video tools: job ledger, daily budget, polling policy, atomic downloads.

No MCP and no network here: the provider client and the tools call into these.
"""

from sora_mcp.jobs.budget import BudgetExceeded, BudgetSnapshot
from sora_mcp.jobs.database import Location
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
from sora_mcp.jobs.errors import JobNotFound, LedgerConflict, LedgerError, LedgerUnavailable, LedgerVersionError
from sora_mcp.jobs.ledger import Ledger
from sora_mcp.jobs.polling import POLL_AFTER_HEADER, PollPolicy, RetrieveGate, poll_after_ms
from sora_mcp.jobs.records import (
    JobIntent,
    JobKind,
    JobRecord,
    JobStatus,
    request_fingerprint,
)

__all__ = [
    "POLL_AFTER_HEADER",
    "Body",
    "BudgetExceeded",
    "BudgetSnapshot",
    "DownloadError",
    "DownloadResult",
    "Fetch",
    "IncompleteDownload",
    "JobIntent",
    "JobKind",
    "JobNotFound",
    "JobRecord",
    "JobStatus",
    "Ledger",
    "LedgerConflict",
    "LedgerError",
    "LedgerUnavailable",
    "LedgerVersionError",
    "Location",
    "PollPolicy",
    "RetrieveGate",
    "download_once",
    "fetch_from",
    "poll_after_ms",
    "request_fingerprint",
    "sha256_file",
]
