"""The daily spending limit: money in whole micro-dollars, days in UTC, refusals that say what to do.

Admission is decided in integers so that "exactly floor(limit / estimate) jobs fit" holds: with floats,
three $0.10 jobs would already exceed a $0.30 limit. The check itself runs inside the ledger's write
transaction (see `Ledger.record_intent`); this module only holds the arithmetic and the words.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sora_mcp.errors import SoraMcpError

MICROS_PER_USD = 1_000_000


def to_micros(usd: float) -> int:
    """USD as whole micro-dollars; refuses negative, infinite or NaN amounts."""
    if not math.isfinite(usd) or usd < 0:
        raise ValueError(f"an amount of money must be a finite number ≥ 0, not {usd!r}")
    return round(usd * MICROS_PER_USD)


def from_micros(micros: int) -> float:
    return micros / MICROS_PER_USD


def utc_day(epoch_s: float) -> str:
    """The UTC calendar day ('YYYY-MM-DD') a moment's spend counts against."""
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).date().isoformat()


def format_usd(usd: float) -> str:
    """$0.40, or $0.1234 when cents would hide the amount."""
    return f"${usd:.2f}" if round(usd, 2) == round(usd, 6) else f"${usd:.6f}".rstrip("0")


@dataclass(frozen=True)
class BudgetSnapshot:
    """Where today's budget stands, for answers that show the user their spend."""

    day: str
    limit_usd: float
    spent_usd: float
    remaining_usd: float


class BudgetExceeded(SoraMcpError):
    """A create refused before any network call because it would overspend the UTC day's budget.

    `setting` names the variable that sets this pool's limit (the sandbox has its own).
    """

    stage = "budget"
    code = "budget_exceeded"

    def __init__(
        self,
        *,
        day: str,
        limit_usd: float,
        spent_usd: float,
        requested_usd: float,
        setting: str = "SORA_MCP_DAILY_BUDGET_USD",
    ) -> None:
        self.setting = setting
        self.day = day
        self.limit_usd = limit_usd
        self.spent_usd = spent_usd
        self.requested_usd = requested_usd
        self.remaining_usd = max(0.0, round(limit_usd - spent_usd, 6))
        super().__init__(self._explain())

    def _explain(self) -> str:
        if self.limit_usd <= 0:
            if not self.setting.isidentifier():  # not a variable: a limit granted elsewhere (a tenant's token)
                return (
                    f"Creating videos is turned off: {self.setting} is $0. Ask for a token with a positive daily "
                    "budget to allow it; status, listing and downloads keep working."
                )
            return (
                f"Creating videos is turned off: the daily budget is $0 ({self.setting}=0). "
                f"Set {self.setting} to a positive number of USD per UTC day to allow it; "
                "status, listing and downloads keep working."
            )
        ways = []
        if self.remaining_usd > 0:
            ways.append(f"lower seconds or size so it costs at most {format_usd(self.remaining_usd)}")
        ways += ["wait until the budget resets at 00:00 UTC", f"raise {self.setting}"]
        return (
            f"Over the daily budget: this video would cost about {format_usd(self.requested_usd)} but only "
            f"{format_usd(self.remaining_usd)} of the {format_usd(self.limit_usd)} budget is left for {self.day} UTC "
            f"({format_usd(self.spent_usd)} already spent or reserved). To continue, "
            + ", ".join(ways[:-1])
            + f", or {ways[-1]}."
        )


def admit(
    *, day: str, limit_micros: int, spent_micros: int, requested_micros: int, setting: str = "SORA_MCP_DAILY_BUDGET_USD"
) -> None:
    """Raise `BudgetExceeded` unless `requested` fits in what `limit` leaves after `spent`; a 0 limit admits nothing."""
    if limit_micros <= 0 or spent_micros + requested_micros > limit_micros:
        raise BudgetExceeded(
            day=day,
            limit_usd=from_micros(limit_micros),
            spent_usd=from_micros(spent_micros),
            requested_usd=from_micros(requested_micros),
            setting=setting,
        )
