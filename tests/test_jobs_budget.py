"""The daily budget's arithmetic: exact admission in micro-dollars and amounts that stay visible.

How the ledger applies it (race-free across tasks, processes and replicas, per tenant and per pool, on both
databases) is part of the ledger contract, `tests/test_jobs_ledger.py`.
"""

from __future__ import annotations

from typing import Any

import pytest

from sora_mcp.jobs import BudgetExceeded
from sora_mcp.jobs.budget import admit, format_usd, to_micros


@pytest.mark.parametrize(
    ("limit", "spent", "requested", "admitted"),
    [(1.0, 0.0, 1.0, True), (1.0, 0.7, 0.3, True), (1.0, 0.7, 0.31, False), (0.0, 0.0, 0.0, False)],
)
def test_admission_is_exact_in_micro_dollars(limit: float, spent: float, requested: float, admitted: bool) -> None:
    args: dict[str, Any] = {
        "day": "2027-01-15",
        "limit_micros": to_micros(limit),
        "spent_micros": to_micros(spent),
        "requested_micros": to_micros(requested),
    }
    if admitted:
        admit(**args)
    else:
        with pytest.raises(BudgetExceeded):
            admit(**args)


def test_three_tenths_fit_three_tenths() -> None:
    admit(
        day="d", limit_micros=to_micros(0.3), spent_micros=3 * to_micros(0.1) - to_micros(0.1), requested_micros=100_000
    )
    with pytest.raises(BudgetExceeded):
        admit(day="d", limit_micros=to_micros(0.3), spent_micros=3 * to_micros(0.1), requested_micros=1)


def test_money_formatting_keeps_sub_cent_amounts_visible() -> None:
    assert format_usd(0.5) == "$0.50"
    assert format_usd(10) == "$10.00"
    assert format_usd(0.1234) == "$0.1234"
