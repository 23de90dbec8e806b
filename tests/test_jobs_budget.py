"""The daily budget: exact admission, race-free across threads and processes, clear refusals."""

from __future__ import annotations

import multiprocessing
import threading
from decimal import Decimal
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import anyio
import pytest

from sora_mcp.jobs import BudgetExceeded, Ledger, SyncLedger
from sora_mcp.jobs.budget import admit, format_usd, to_micros

LIMIT = 2.0
ESTIMATE = 0.3
THREADS_PER_PROCESS = 8
PROCESSES = 3

Outcome = tuple[str, float, float]  # ("ok", 0, 0) or ("refused", spent_usd, remaining_usd)


def _request(ledger: SyncLedger, estimate: float, limit: float) -> Outcome:
    try:
        ledger.record_intent(
            kind="create",
            backend="provider (test)",
            base_url=None,
            profile="openai",
            model="sora-2",
            seconds=4,
            size="720x1280",
            prompt="budget race",
            estimated_cost_usd=estimate,
            daily_limit_usd=limit,
        )
    except BudgetExceeded as exc:
        assert exc.limit_usd == limit and exc.requested_usd == estimate
        return ("refused", exc.spent_usd, exc.remaining_usd)
    return ("ok", 0.0, 0.0)


def _fire(path: Path, threads: int, start: Barrier | None) -> list[Outcome]:
    """Open the ledger (maybe a fresh file) and fire `threads` record_intent calls at once."""
    if start is not None:
        start.wait(30)
    ledger = SyncLedger(path)
    together = threading.Barrier(threads)
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def one() -> None:
        together.wait(30)
        outcome = _request(ledger, ESTIMATE, LIMIT)
        with lock:
            outcomes.append(outcome)

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    ledger.close()
    return outcomes


def _process_main(path: str, start: Barrier, results: Queue[list[Outcome]]) -> None:
    results.put(_fire(Path(path), THREADS_PER_PROCESS, start))


def test_concurrent_creates_from_threads_and_processes_never_exceed_the_budget(tmp_path: Path) -> None:
    path = tmp_path / "race" / "ledger.sqlite3"  # nobody has created it: the openers race too
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(PROCESSES + 1)
    results: Queue[list[Outcome]] = ctx.Queue()
    processes = [ctx.Process(target=_process_main, args=(str(path), start, results)) for _ in range(PROCESSES)]
    for p in processes:
        p.start()
    outcomes = _fire(path, THREADS_PER_PROCESS, start)
    for _ in processes:
        outcomes += results.get(timeout=60)
    for p in processes:
        p.join(30)
        assert p.exitcode == 0

    expected = int(Decimal(str(LIMIT)) // Decimal(str(ESTIMATE)))  # 6
    assert len(outcomes) == (PROCESSES + 1) * THREADS_PER_PROCESS
    assert sum(1 for o in outcomes if o[0] == "ok") == expected
    # every refusal saw the full admitted total, never a partial count
    refusals = [o for o in outcomes if o[0] == "refused"]
    assert refusals and all(o[1] == pytest.approx(1.8) and o[2] == pytest.approx(0.2) for o in refusals)
    with SyncLedger(path) as ledger:
        records = ledger.list(limit=100)
        assert len(records) == expected
        assert ledger.spent_usd() == pytest.approx(expected * ESTIMATE)
        assert ledger.spent_usd() <= LIMIT


@pytest.mark.anyio
async def test_concurrent_async_creates_admit_exactly_what_fits(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    outcomes: list[Outcome] = []

    async def one() -> None:
        outcomes.append(await anyio.to_thread.run_sync(_request, ledger.sync, 0.1, 0.3))

    async def via_facade() -> None:
        try:
            await ledger.record_intent(
                kind="create",
                backend="provider (test)",
                base_url=None,
                profile="openai",
                model="sora-2",
                seconds=4,
                size="720x1280",
                prompt="p",
                estimated_cost_usd=0.1,
                daily_limit_usd=0.3,
            )
            outcomes.append(("ok", 0, 0))
        except BudgetExceeded as exc:
            outcomes.append(("refused", exc.spent_usd, exc.remaining_usd))

    async with anyio.create_task_group() as tg:
        for n in range(20):
            tg.start_soon(one if n % 2 else via_facade)
    # 3 × $0.10 fits $0.30 exactly (floats would say 0.30000000000000004 > 0.3 and admit only 2)
    assert sorted(o[0] for o in outcomes) == ["ok"] * 3 + ["refused"] * 17
    assert await ledger.spent_usd() == pytest.approx(0.3)
    ledger.close()


def _ledger(tmp_path: Path, now: list[float]) -> SyncLedger:
    return SyncLedger(tmp_path / "ledger.sqlite3", clock=lambda: now[0])


def test_a_zero_budget_forbids_creating_with_its_own_message(tmp_path: Path) -> None:
    with SyncLedger(tmp_path / "l.sqlite3") as ledger:
        for estimate in (0.4, 0.0, None):
            with pytest.raises(BudgetExceeded) as caught:
                ledger.record_intent(
                    kind="create",
                    backend="provider (test)",
                    base_url=None,
                    profile="openai",
                    model="sora-2",
                    seconds=4,
                    size="720x1280",
                    prompt="p",
                    estimated_cost_usd=estimate,
                    daily_limit_usd=0,
                )
            assert "turned off" in str(caught.value)
            assert "SORA_MCP_DAILY_BUDGET_USD" in str(caught.value)
            assert caught.value.limit_usd == 0 and caught.value.remaining_usd == 0
        assert ledger.list() == ()


def test_refusal_says_what_it_costs_what_is_left_and_what_to_do(tmp_path: Path) -> None:
    now = [1_800_000_000.0]
    with _ledger(tmp_path, now) as ledger:
        assert _request(ledger, 1.5, 2.0) == ("ok", 0, 0)
        with pytest.raises(BudgetExceeded) as caught:
            ledger.record_intent(
                kind="create",
                backend="provider (test)",
                base_url=None,
                profile="openai",
                model="sora-2-pro",
                seconds=4,
                size="1792x1024",
                prompt="p",
                estimated_cost_usd=2.0,
                daily_limit_usd=2.0,
            )
        exc = caught.value
        assert (exc.limit_usd, exc.spent_usd, exc.requested_usd, exc.remaining_usd, exc.day) == (
            2.0,
            1.5,
            2.0,
            0.5,
            "2027-01-15",
        )
        message = str(exc)
        for words in ("$2.00", "$0.50", "$1.50", "lower seconds or size", "00:00 UTC", "SORA_MCP_DAILY_BUDGET_USD"):
            assert words in message
        assert exc.code == "budget_exceeded" and exc.setting == "SORA_MCP_DAILY_BUDGET_USD"
        assert exc.remaining_usd == 0.5
        assert len(ledger.list()) == 1  # nothing was written for the refused one


def test_spend_resets_on_the_next_utc_day_and_final_cost_replaces_the_estimate(tmp_path: Path) -> None:
    now = [1_800_028_799.0]  # 2027-01-15T15:59:59Z
    with _ledger(tmp_path, now) as ledger:
        assert _request(ledger, 1.0, 1.0)[0] == "ok"
        assert _request(ledger, 0.01, 1.0)[0] == "refused"
        now[0] += 8 * 3600 + 1  # 2027-01-16T00:00:00Z
        assert ledger.budget(1.0).day == "2027-01-16"
        assert ledger.spent_usd() == 0
        assert ledger.spent_usd("2027-01-15") == 1.0
        first = _request(ledger, 0.6, 1.0)
        assert first[0] == "ok"
        (record,) = ledger.list(statuses=["creating"], limit=1)
        ledger.attach_video_id(record.local_id, "video_1")
        ledger.update_from_provider("video_1", "completed", final_cost_usd=0.2)
        assert ledger.spent_usd() == pytest.approx(0.2)
        assert _request(ledger, 0.8, 1.0)[0] == "ok"
        assert _request(ledger, 0.01, 1.0) == ("refused", 1.0, 0.0)


def test_unknown_price_reserves_nothing_but_is_recorded(tmp_path: Path) -> None:
    with SyncLedger(tmp_path / "l.sqlite3") as ledger:
        assert _request(ledger, 1.0, 1.0)[0] == "ok"
        record = ledger.record_intent(
            kind="create",
            backend="provider",
            base_url=None,
            profile="azure",
            model="deployment",
            seconds=4,
            size="720x1280",
            prompt="p",
            estimated_cost_usd=None,
            daily_limit_usd=1.0,
        )
        assert record.estimated_cost_usd is None and record.cost_usd is None
        assert ledger.spent_usd() == 1.0


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


def test_money_formatting_keeps_sub_cent_amounts_visible() -> None:
    assert format_usd(0.5) == "$0.50"
    assert format_usd(10) == "$10.00"
    assert format_usd(0.1234) == "$0.1234"
