"""The ledger contract, on a real SQLite file and a real PostgreSQL server alike: round trips, restarts,
crashes, merges, tenants, idempotency, budgets, plan reservations, concurrency, migrations, failures."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import anyio
import pytest
import sqlalchemy as sa

from sora_mcp.jobs import (
    BudgetExceeded,
    JobIntent,
    JobNotFound,
    Ledger,
    LedgerConflict,
    LedgerUnavailable,
    LedgerVersionError,
    Location,
    request_fingerprint,
)
from sora_mcp.jobs.schema import SCHEMA_VERSION, SQLITE_MIGRATIONS
from tests.ledger_support import Clock, Opener, intent, ledger, location, open_ledger, record

__all__ = ["ledger", "location", "open_ledger"]

pytestmark = pytest.mark.anyio


# -- round trips -----------------------------------------------------------------------------------------------


async def test_intent_answer_progress_completion_and_files_round_trip(open_ledger: Opener, tmp_path: Path) -> None:
    clock = Clock()
    ledger = open_ledger(clock=clock)
    ref = tmp_path / "ref.png"
    created = await record(ledger, reference_path=str(ref), reference_sha256="ab" * 32)
    assert (created.status, created.video_id, created.tenant) == ("creating", None, "local")
    assert created.created_at == created.updated_at == clock.now
    assert (created.day, created.estimated_cost_usd, created.reference_path) == ("2027-01-15", 0.4, str(ref))
    assert created.request_fingerprint == request_fingerprint(
        model="sora-2", seconds=4, size="720x1280", prompt=created.prompt, reference_sha256="ab" * 32
    )

    clock.now += 2
    queued = await ledger.attach_video_id("local", created.local_id, "video_1", expires_at=clock.now + 3600)
    assert (queued.video_id, queued.status, queued.progress) == ("video_1", "queued", 0)
    assert (queued.expires_at, queued.updated_at) == (clock.now + 3600, clock.now)

    clock.now += 5
    running = await ledger.update_from_provider("local", "video_1", "in_progress", progress=40)
    assert (running.status, running.progress) == ("in_progress", 40)
    done = await ledger.update_from_provider(
        "local", "video_1", "completed", completed_at=clock.now - 1, final_cost_usd=0.4
    )
    assert (done.status, done.progress, done.completed_at, done.final_cost_usd) == (
        "completed",
        100,
        clock.now - 1,
        0.4,
    )

    files = await ledger.set_files(
        "local", "video_1", video_path=tmp_path / "v.mp4", thumbnail_path=tmp_path / "t.webp", spritesheet_path=None
    )
    assert (files.video_path, files.thumbnail_path) == (str(tmp_path / "v.mp4"), str(tmp_path / "t.webp"))
    assert (files.spritesheet_path, files.downloaded_at) == (None, clock.now)
    assert await ledger.get("local", "video_1") == files
    assert await ledger.get("local", created.local_id) == files
    assert await ledger.get("local", "video_unknown") is None


async def test_a_new_ledger_on_the_same_database_sees_everything(open_ledger: Opener) -> None:
    """The restart case: a second server process (or a restarted one) resumes from the database alone."""
    first = open_ledger()
    waiting = await record(first, prompt="still creating")
    queued = await first.attach_video_id("local", (await record(first, prompt="queued")).local_id, "video_q")
    running = await first.attach_video_id(
        "local", (await record(first, prompt="running")).local_id, "video_r", status="in_progress", progress=7
    )
    await first.close()

    second = open_ledger()
    assert await second.unresolved() == (waiting,)
    assert {r.local_id for r in await second.list("local")} == {waiting.local_id, queued.local_id, running.local_id}
    assert await second.get("local", "video_r") == running
    assert (await second.budget("local", 10.0)).spent_usd == pytest.approx(1.2)


def _crash_after_intent(location: Location, conn: Connection) -> None:
    async def main() -> None:
        ledger = Ledger(location)
        created = await record(ledger, prompt="crash before the answer")
        conn.send(created.local_id)
        os._exit(3)  # no close, no cleanup: as if the server was killed while the create request was in flight

    anyio.run(main)


async def test_unresolved_after_a_real_crash_between_intent_and_answer(ledger: Ledger, location: Location) -> None:
    await ledger.list("local")  # the database exists before the process that crashes opens it
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_crash_after_intent, args=(location, sender))
    process.start()
    local_id = await anyio.to_thread.run_sync(receiver.recv)
    await anyio.to_thread.run_sync(process.join, 30)
    assert process.exitcode == 3

    (pending,) = await ledger.unresolved()
    assert (pending.local_id, pending.status) == (local_id, "creating")
    assert (await ledger.budget("local", 10.0)).spent_usd == pytest.approx(0.4)  # reserved until reconciled
    found = await ledger.attach_video_id("local", local_id, "video_late", status="in_progress", progress=30)
    assert found.status == "in_progress"
    assert await ledger.unresolved() == ()


async def test_unresolved_can_skip_creates_that_may_still_be_in_flight(open_ledger: Opener) -> None:
    clock = Clock()
    ledger = open_ledger(clock=clock)
    old = await record(ledger)
    clock.now += 100
    other_tenant = await record(ledger, tenant="b")
    assert await ledger.unresolved(min_age_s=60) == (old,)
    assert await ledger.unresolved() == (old, other_tenant)  # recovery covers every tenant


async def test_stale_answers_never_move_a_job_backwards(ledger: Ledger) -> None:
    local_id = (await record(ledger)).local_id
    await ledger.attach_video_id("local", local_id, "video_1", status="in_progress", progress=50)
    assert (await ledger.update_from_provider("local", "video_1", "in_progress", progress=30)).progress == 50
    assert (await ledger.update_from_provider("local", "video_1", "queued", progress=0)).status == "in_progress"
    done = await ledger.update_from_provider("local", "video_1", "completed")
    assert (done.status, done.progress) == ("completed", 100)
    late = await ledger.update_from_provider("local", "video_1", "in_progress", progress=90)
    assert (late.status, late.progress) == ("completed", 100)
    still = await ledger.update_from_provider("local", "video_1", "failed", error_code="x")
    assert (still.status, still.error_code) == ("completed", None)
    expired = await ledger.update_from_provider("local", "video_1", "expired")
    assert expired.status == "expired" and expired.assets_expired()
    assert (await ledger.update_from_provider("local", "video_1", "deleted")).status == "deleted"


async def test_failed_job_keeps_the_providers_reason(ledger: Ledger) -> None:
    await ledger.attach_video_id("local", (await record(ledger)).local_id, "video_f", status="in_progress", progress=10)
    failed = await ledger.update_from_provider(
        "local", "video_f", "failed", error_code="moderation_blocked", error_message="Your request was blocked"
    )
    assert (failed.status, failed.error_code, failed.error_message, failed.progress) == (
        "failed",
        "moderation_blocked",
        "Your request was blocked",
        10,
    )
    assert await ledger.list("local", statuses=["failed"]) == (failed,)
    assert (await ledger.budget("local", 10.0)).spent_usd == 0  # failed jobs are not billed


async def test_video_ids_are_attached_once(ledger: Ledger) -> None:
    a = await record(ledger, prompt="a")
    b = await record(ledger, prompt="b")
    await ledger.attach_video_id("local", a.local_id, "video_a")
    again = await ledger.attach_video_id("local", a.local_id, "video_a", status="in_progress", progress=5)
    assert (again.status, again.progress) == ("in_progress", 5)  # the same answer twice merges
    with pytest.raises(LedgerConflict, match="already has video id video_a"):
        await ledger.attach_video_id("local", a.local_id, "video_other")
    with pytest.raises(LedgerConflict, match="already belongs to another job"):
        await ledger.attach_video_id("local", b.local_id, "video_a")
    with pytest.raises(JobNotFound):
        await ledger.attach_video_id("local", "no-such-job", "video_z")
    with pytest.raises(JobNotFound):
        await ledger.update_from_provider("local", "video_z", "queued")
    with pytest.raises(ValueError, match="status 'creating'"):
        await ledger.update_from_provider("local", "video_a", "creating")


async def test_create_failed_releases_the_reservation_and_a_billed_job_cannot_be_failed(ledger: Ledger) -> None:
    rejected = await record(ledger, estimated_cost_usd=1.0)
    accepted = await record(ledger, estimated_cost_usd=2.0)
    assert (await ledger.budget("local", 10.0)).spent_usd == pytest.approx(3.0)
    failed = await ledger.mark_create_failed("local", rejected.local_id, "invalid_value", "Invalid value: '10'.")
    assert (failed.status, failed.error_code) == ("create_failed", "invalid_value")
    assert (await ledger.budget("local", 10.0)).spent_usd == pytest.approx(2.0)
    assert await ledger.unresolved() == (accepted,)

    await ledger.attach_video_id("local", accepted.local_id, "video_acc")
    with pytest.raises(LedgerConflict, match="cannot be marked create_failed"):
        await ledger.mark_create_failed("local", accepted.local_id, None, None)
    # a late reconciliation finds the "rejected" create at the provider after all: it counts again
    revived = await ledger.attach_video_id("local", rejected.local_id, "video_rev")
    assert (revived.status, revived.error_code) == ("queued", None)
    assert (await ledger.budget("local", 10.0)).spent_usd == pytest.approx(3.0)


async def test_unknown_keeps_the_reservation_and_only_a_pending_job_becomes_unknown(ledger: Ledger) -> None:
    lost = await record(ledger)
    unknown = await ledger.mark_unknown("local", lost.local_id, "create_unconfirmed", "answer lost")
    assert (unknown.status, unknown.error_code) == ("unknown", "create_unconfirmed")
    assert (await ledger.budget("local", 10.0)).spent_usd == pytest.approx(0.4)
    assert await ledger.unresolved() == (unknown,)
    attached = await ledger.attach_video_id("local", lost.local_id, "video_found")
    assert (await ledger.mark_unknown("local", lost.local_id, None, None)) == attached  # answered: unchanged


async def test_list_is_newest_first_limited_and_filtered(open_ledger: Opener) -> None:
    clock = Clock()
    ledger = open_ledger(clock=clock)
    records = []
    for n in range(5):
        clock.now += 1
        records.append(await record(ledger, prompt=f"clip {n}"))
    same_time = [await record(ledger, prompt=f"tie {n}") for n in range(3)]  # equal times: insertion order
    await ledger.attach_video_id("local", records[1].local_id, "video_1")
    assert [r.prompt for r in await ledger.list("local", limit=5)] == ["tie 2", "tie 1", "tie 0", "clip 4", "clip 3"]
    assert [r.prompt for r in await ledger.list("local", statuses=["queued"])] == ["clip 1"]
    assert await ledger.list("local", statuses=[]) == ()
    assert len(same_time) == 3
    with pytest.raises(ValueError):
        await ledger.list("local", statuses=["bogus"])  # type: ignore[list-item]


async def test_claim_retrieve_spaces_retrieves_across_instances(open_ledger: Opener) -> None:
    clock = Clock()
    one = open_ledger(clock=clock)
    two = open_ledger(clock=clock)  # another process, as far as the database is concerned
    await one.attach_video_id("local", (await record(one)).local_id, "video_1")
    assert await one.claim_retrieve("local", "video_1") is True
    assert await two.claim_retrieve("local", "video_1") is False
    clock.now += 0.99
    assert await two.claim_retrieve("local", "video_1") is False
    clock.now += 0.02
    assert await two.claim_retrieve("local", "video_1") is True
    assert await one.claim_retrieve("local", "video_1") is False
    with pytest.raises(JobNotFound):
        await one.claim_retrieve("b", "video_1")  # another tenant cannot even claim it


async def test_one_download_claim_at_a_time_across_instances_until_the_lease_runs_out(open_ledger: Opener) -> None:
    clock = Clock()
    one = open_ledger(clock=clock)
    two = open_ledger(clock=clock)
    await one.attach_video_id("local", (await record(one)).local_id, "video_1", status="completed")
    assert await one.claim_download("local", "video_1", lease_s=60) is True
    assert await two.claim_download("local", "video_1", lease_s=60) is False
    clock.now += 61  # the claimer died: the lease ran out
    assert await two.claim_download("local", "video_1", lease_s=60) is True
    await two.release_download("local", "video_1")  # its download failed: the next caller may try at once
    assert await one.claim_download("local", "video_1", lease_s=60) is True
    await one.set_files("local", "video_1", video_path="/out/video_1.mp4")
    clock.now += 120
    assert await two.claim_download("local", "video_1", lease_s=60) is False  # downloaded: nothing to claim
    with pytest.raises(JobNotFound):
        await two.claim_download("b", "video_1", lease_s=60)


def test_fingerprint_is_stable_and_sensitive_to_every_part() -> None:
    base: dict[str, Any] = {"model": "sora-2", "seconds": 4, "size": "720x1280", "prompt": "p", "reference_sha256": "r"}
    fp = request_fingerprint(**base)
    assert fp == request_fingerprint(**base) and len(fp) == 64
    assert request_fingerprint(**{**base, "seconds": "4"}) == fp  # the wire's string seconds match
    variants: list[dict[str, Any]] = [
        {"model": "sora-2-pro"},
        {"seconds": 8},
        {"size": "1280x720"},
        {"prompt": "p "},
        {"reference_sha256": None},
        {"kind": "remix"},
        {"parent_video_id": "video_0"},
        {"options": {"audio": True}},
        {"plan": ("plan-1", 0)},
        {"plan": ("plan-1", 1)},
    ]
    assert len({request_fingerprint(**{**base, **v}) for v in variants} | {fp}) == len(variants) + 1


def test_an_invalid_intent_cannot_be_made() -> None:
    for changes, words in (
        ({"seconds": 0}, "seconds"),
        ({"seconds": True}, "seconds"),
        ({"kind": "movie"}, "kind 'movie'"),
        ({"estimated_cost_usd": -1.0}, "money"),
        ({"parent_id": "p"}, "both parent_id and segment"),
        ({"parent_id": "p", "segment": -1}, "segment"),
    ):
        with pytest.raises(ValueError, match=words):
            intent(**changes)


async def test_closed_ledger_refuses_work(ledger: Ledger) -> None:
    await ledger.list("local")
    await ledger.close()
    with pytest.raises(Exception, match="closed"):
        await ledger.list("local")


# -- tenants ---------------------------------------------------------------------------------------------------


async def test_a_tenant_never_sees_finds_or_changes_another_tenants_job(ledger: Ledger) -> None:
    mine = await record(ledger, tenant="a")
    await ledger.attach_video_id("a", mine.local_id, "video_a")
    assert await ledger.get("b", "video_a") is None
    assert await ledger.get("b", mine.local_id) is None
    assert await ledger.list("b") == ()
    assert [r.local_id for r in await ledger.list("a")] == [mine.local_id]
    for change in (
        ledger.update_from_provider("b", "video_a", "completed"),
        ledger.set_files("b", "video_a", video_path="/x.mp4"),
        ledger.mark_create_failed("b", mine.local_id, None, None),
        ledger.mark_unknown("b", mine.local_id, None, None),
        ledger.attach_video_id("b", mine.local_id, "video_b"),
        ledger.claim_retrieve("b", "video_a"),
    ):
        with pytest.raises(JobNotFound):
            await change
    assert await ledger.get("a", "video_a") == await ledger.get("a", mine.local_id)
    assert (await ledger.get("a", "video_a")).status == "queued"  # type: ignore[union-attr]
    assert (await ledger.budget("b", 10.0)).spent_usd == 0
    assert (await ledger.budget("a", 10.0)).spent_usd == pytest.approx(0.4)


async def test_each_tenant_has_its_own_budget(ledger: Ledger) -> None:
    assert (await record(ledger, tenant="a", limit=0.4)).tenant == "a"
    with pytest.raises(BudgetExceeded):
        await record(ledger, tenant="a", limit=0.4, prompt="one more")
    assert (await record(ledger, tenant="b", limit=0.4, prompt="one more")).tenant == "b"  # a's spend is a's


async def test_idempotency_keys_and_duplicates_are_per_tenant(open_ledger: Opener) -> None:
    clock = Clock()
    ledger = open_ledger(clock=clock)
    first = await ledger.record_intent("a", intent(idempotency_key="k1"), daily_limit_usd=10)
    clock.now += 1
    assert await ledger.record_intent("a", intent(idempotency_key="k1"), daily_limit_usd=10) == first
    with pytest.raises(LedgerConflict, match="idempotency_key 'k1' was already used"):
        await ledger.record_intent("a", intent(idempotency_key="k1", prompt="other"), daily_limit_usd=10)
    theirs = await ledger.record_intent("b", intent(idempotency_key="k1", prompt="other"), daily_limit_usd=10)
    assert theirs.local_id != first.local_id and theirs.tenant == "b"  # b's key is b's: no conflict, no reuse
    assert (await ledger.budget("a", 10)).spent_usd == pytest.approx(0.4)

    plain = await ledger.record_intent("a", intent(prompt="dup"), daily_limit_usd=10, duplicate_window_s=60)
    clock.now += 59
    assert await ledger.record_intent("a", intent(prompt="dup"), daily_limit_usd=10, duplicate_window_s=60) == plain
    other = await ledger.record_intent("b", intent(prompt="dup"), daily_limit_usd=10, duplicate_window_s=60)
    assert other.local_id != plain.local_id
    assert (await ledger.record_intent("a", intent(prompt="dup"), daily_limit_usd=10)).local_id != plain.local_id
    clock.now += 2
    later = await ledger.record_intent("a", intent(prompt="dup"), daily_limit_usd=10, duplicate_window_s=60)
    assert later.local_id != plain.local_id  # outside the window: a deliberate second take


async def test_a_failed_or_expired_job_is_not_a_duplicate(open_ledger: Opener) -> None:
    clock = Clock()
    ledger = open_ledger(clock=clock)
    failed = await ledger.record_intent("a", intent(), daily_limit_usd=10, duplicate_window_s=600)
    await ledger.mark_create_failed("a", failed.local_id, "x", "no")
    retried = await ledger.record_intent("a", intent(), daily_limit_usd=10, duplicate_window_s=600)
    assert retried.local_id != failed.local_id
    await ledger.attach_video_id("a", retried.local_id, "video_e", status="completed", expires_at=clock.now + 10)
    clock.now += 11
    again = await ledger.record_intent("a", intent(), daily_limit_usd=10, duplicate_window_s=600)
    assert again.local_id not in (failed.local_id, retried.local_id)


# -- budgets ---------------------------------------------------------------------------------------------------


async def test_spend_is_counted_per_pool(ledger: Ledger) -> None:
    await record(ledger, backend="sandbox", estimated_cost_usd=5.0, limit=5.0)
    await record(ledger, estimated_cost_usd=1.0, limit=1.0)  # the sandbox's spend never blocks real work
    assert (await ledger.budget("local", 1.0, "provider")).spent_usd == 1.0
    assert (await ledger.budget("local", 5.0, "sandbox")).spent_usd == 5.0
    with pytest.raises(BudgetExceeded) as caught:
        await record(ledger, backend="sandbox", estimated_cost_usd=0.1, limit=5.0)
    assert caught.value.setting == "SORA_MCP_SANDBOX_DAILY_BUDGET_USD"


async def test_a_zero_budget_forbids_creating_with_its_own_message(ledger: Ledger) -> None:
    for estimate in (0.4, 0.0, None):
        with pytest.raises(BudgetExceeded) as caught:
            await record(ledger, estimated_cost_usd=estimate, limit=0)
        assert "turned off" in str(caught.value) and "SORA_MCP_DAILY_BUDGET_USD" in str(caught.value)
        assert caught.value.limit_usd == 0 and caught.value.remaining_usd == 0
    assert await ledger.list("local") == ()


async def test_refusal_says_what_it_costs_what_is_left_and_what_to_do(open_ledger: Opener) -> None:
    ledger = open_ledger(clock=Clock())
    await record(ledger, estimated_cost_usd=1.5, limit=2.0)
    with pytest.raises(BudgetExceeded) as caught:
        await record(ledger, estimated_cost_usd=2.0, limit=2.0, model="sora-2-pro")
    exc = caught.value
    assert (exc.limit_usd, exc.spent_usd, exc.requested_usd, exc.remaining_usd, exc.day) == (
        2.0,
        1.5,
        2.0,
        0.5,
        "2027-01-15",
    )
    for words in ("$2.00", "$0.50", "$1.50", "lower seconds or size", "00:00 UTC", "SORA_MCP_DAILY_BUDGET_USD"):
        assert words in str(exc)
    assert len(await ledger.list("local")) == 1  # nothing was written for the refused one


async def test_spend_resets_on_the_next_utc_day_and_final_cost_replaces_the_estimate(open_ledger: Opener) -> None:
    clock = Clock(1_800_028_799.0)  # 2027-01-15T15:59:59Z
    ledger = open_ledger(clock=clock)
    await record(ledger, estimated_cost_usd=1.0, limit=1.0)
    with pytest.raises(BudgetExceeded):
        await record(ledger, estimated_cost_usd=0.01, limit=1.0)
    clock.now += 8 * 3600 + 1  # 2027-01-16T00:00:00Z
    assert (await ledger.budget("local", 1.0)).day == "2027-01-16"
    assert (await ledger.budget("local", 1.0)).spent_usd == 0
    assert (await ledger.budget("local", 1.0, day="2027-01-15")).spent_usd == 1.0
    created = await record(ledger, estimated_cost_usd=0.6, limit=1.0)
    await ledger.attach_video_id("local", created.local_id, "video_1")
    await ledger.update_from_provider("local", "video_1", "completed", final_cost_usd=0.2)
    assert (await ledger.budget("local", 1.0)).spent_usd == pytest.approx(0.2)
    await record(ledger, estimated_cost_usd=0.8, limit=1.0)
    with pytest.raises(BudgetExceeded) as caught:
        await record(ledger, estimated_cost_usd=0.01, limit=1.0)
    assert (caught.value.spent_usd, caught.value.remaining_usd) == (1.0, 0.0)


async def test_unknown_price_reserves_nothing_but_is_recorded(ledger: Ledger) -> None:
    await record(ledger, estimated_cost_usd=1.0, limit=1.0)
    unpriced = await record(ledger, estimated_cost_usd=None, limit=1.0, profile="azure", model="deployment")
    assert unpriced.estimated_cost_usd is None and unpriced.cost_usd is None
    assert (await ledger.budget("local", 1.0)).spent_usd == 1.0


async def test_40_concurrent_intents_under_a_budget_for_3_admit_exactly_3(ledger: Ledger) -> None:
    outcomes: list[str] = []

    async def one(n: int) -> None:
        tenant = "a" if n % 4 else "b"  # tenant b's own budget admits its own 3, never a's
        try:
            await ledger.record_intent(tenant, intent(estimated_cost_usd=0.1, prompt=f"p{n}"), daily_limit_usd=0.3)
            outcomes.append(f"{tenant}:ok")
        except BudgetExceeded as exc:
            assert exc.spent_usd == pytest.approx(0.3) and exc.remaining_usd == 0  # never a partial count
            outcomes.append(f"{tenant}:refused")

    async with anyio.create_task_group() as group:
        for n in range(40):
            group.start_soon(one, n)
    # 3 × $0.10 fits $0.30 exactly (floats would say 0.30000000000000004 > 0.3 and admit only 2)
    assert outcomes.count("a:ok") == 3 and outcomes.count("b:ok") == 3
    assert outcomes.count("a:refused") == 27 and outcomes.count("b:refused") == 7
    assert len(await ledger.list("a")) == 3 and (await ledger.budget("a", 0.3)).spent_usd == pytest.approx(0.3)


LIMIT, ESTIMATE, TASKS, PROCESSES = 2.0, 0.3, 8, 3


def _fire(location: Location, start: Any, results: Any) -> None:
    async def main() -> list[str]:
        ledger = Ledger(location)
        outcomes: list[str] = []

        async def one() -> None:
            try:
                await ledger.record_intent("local", intent(estimated_cost_usd=ESTIMATE), daily_limit_usd=LIMIT)
                outcomes.append("ok")
            except BudgetExceeded:
                outcomes.append("refused")

        await anyio.to_thread.run_sync(start.wait, 30)
        async with anyio.create_task_group() as group:
            for _ in range(TASKS):
                group.start_soon(one)
        await ledger.close()
        return outcomes

    results.put(anyio.run(main))


async def test_concurrent_creates_from_several_processes_never_exceed_the_budget(location: Location) -> None:
    """Processes opening a database nobody created yet race each other to migrate and to admit."""
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    processes = [ctx.Process(target=_fire, args=(location, start, results)) for _ in range(PROCESSES)]
    for p in processes:
        p.start()
    outcomes: list[str] = []
    for _ in processes:
        outcomes += await anyio.to_thread.run_sync(results.get, True, 60)
    for p in processes:
        await anyio.to_thread.run_sync(p.join, 30)
        assert p.exitcode == 0
    expected = int(Decimal(str(LIMIT)) // Decimal(str(ESTIMATE)))  # 6
    assert (outcomes.count("ok"), len(outcomes)) == (expected, PROCESSES * TASKS)
    ledger = Ledger(location)
    try:
        assert len(await ledger.list("local", limit=100)) == expected
        assert (await ledger.budget("local", LIMIT)).spent_usd == pytest.approx(expected * ESTIMATE)
    finally:
        await ledger.close()


# -- plan reservations (long videos) ---------------------------------------------------------------------------


async def _plan(ledger: Ledger, cost: float, limit: float, tenant: str = "local") -> Any:
    return await ledger.record_intent(
        tenant, intent(kind="long", seconds=36, estimated_cost_usd=cost, prompt="a long story"), daily_limit_usd=limit
    )


def _segment(plan_id: str, index: int, cost: float = 0.4) -> JobIntent:
    return intent(parent_id=plan_id, segment=index, seconds=12, estimated_cost_usd=cost, prompt=f"shot {index}")


async def test_segments_move_their_cost_out_of_the_plans_reservation(ledger: Ledger) -> None:
    plan = await _plan(ledger, 1.2, limit=1.2)
    assert plan.kind == "long" and (await ledger.budget("local", 1.2)).spent_usd == pytest.approx(1.2)
    with pytest.raises(BudgetExceeded):
        await record(ledger, estimated_cost_usd=0.01, limit=1.2)  # the plan holds the whole budget
    segments = {}
    for index in (2, 0, 1):  # recorded in any order, listed by index
        keyed = dataclasses.replace(_segment(plan.local_id, index), idempotency_key=f"{plan.local_id}:{index}")
        segments[index] = await ledger.record_intent("local", keyed, daily_limit_usd=1.2)
        assert (await ledger.budget("local", 1.2)).spent_usd == pytest.approx(1.2)  # the total stays constant
    left = await ledger.get("local", plan.local_id)
    assert left is not None and left.estimated_cost_usd == 0.0
    assert [(s.segment, s.parent_id) for s in await ledger.children("local", plan.local_id)] == [
        (0, plan.local_id),
        (1, plan.local_id),
        (2, plan.local_id),
    ]
    assert await ledger.children("other", plan.local_id) == ()
    # more than the plan holds: only the part it no longer covers is admitted (and here refused)
    with pytest.raises(BudgetExceeded):
        await ledger.record_intent("local", _segment(plan.local_id, 3), daily_limit_usd=1.2)
    # a resumed plan records a segment again with its key: the same row, paid once
    retried = dataclasses.replace(_segment(plan.local_id, 0), idempotency_key=f"{plan.local_id}:0")
    assert await ledger.record_intent("local", retried, daily_limit_usd=1.2) == segments[0]
    assert (await ledger.budget("local", 1.2)).spent_usd == pytest.approx(1.2)


async def test_a_segment_of_an_admitted_plan_fits_even_when_the_budget_was_lowered(ledger: Ledger) -> None:
    plan = await _plan(ledger, 0.8, limit=1.0)
    segment = await ledger.record_intent("local", _segment(plan.local_id, 0), daily_limit_usd=0.5)
    assert segment.status == "creating"  # its money was reserved when the plan was admitted
    assert (await ledger.budget("local", 1.0)).spent_usd == pytest.approx(0.8)


async def test_a_failed_plan_releases_what_is_left_and_keeps_its_billed_segments(ledger: Ledger) -> None:
    plan = await _plan(ledger, 1.2, limit=1.2)
    first = await ledger.record_intent("local", _segment(plan.local_id, 0), daily_limit_usd=1.2)
    await ledger.attach_video_id("local", first.local_id, "video_s0", status="completed")
    failed = await ledger.update_from_provider("local", plan.local_id, "failed", error_code="segment_failed")
    assert failed.status == "failed"
    assert (await ledger.budget("local", 1.2)).spent_usd == pytest.approx(0.4)  # the segment made is billed
    # a failed plan holds nothing: a further segment is admitted on its own
    alone = await ledger.record_intent("local", _segment(plan.local_id, 1), daily_limit_usd=1.2)
    assert (await ledger.budget("local", 1.2)).spent_usd == pytest.approx(0.8) and alone.parent_id == plan.local_id


async def test_a_plan_of_another_tenant_cannot_be_drawn_on(ledger: Ledger) -> None:
    plan = await _plan(ledger, 1.2, limit=1.2, tenant="a")
    with pytest.raises(JobNotFound):
        await ledger.record_intent("b", _segment(plan.local_id, 0), daily_limit_usd=10)
    assert await ledger.list("b") == ()


async def test_a_segment_counts_on_its_plans_day(open_ledger: Opener) -> None:
    clock = Clock(1_800_057_599.0)  # 2027-01-15T23:59:59Z
    ledger = open_ledger(clock=clock)
    plan = await _plan(ledger, 1.2, limit=1.2)
    clock.now += 2
    segment = await ledger.record_intent("local", _segment(plan.local_id, 0), daily_limit_usd=1.2)
    assert segment.day == plan.day == "2027-01-15"
    assert (await ledger.budget("local", 1.2)).spent_usd == 0  # the new day is untouched


async def test_concurrent_segments_and_creates_keep_the_budget_exact(ledger: Ledger) -> None:
    plan = await _plan(ledger, 0.9, limit=1.2)  # 3 segments of 0.3; 0.3 left for 3 creates of 0.1
    outcomes: list[str] = []

    async def segment(index: int) -> None:
        await ledger.record_intent("local", _segment(plan.local_id, index, 0.3), daily_limit_usd=1.2)
        outcomes.append("segment")

    async def create(n: int) -> None:
        try:
            await record(ledger, estimated_cost_usd=0.1, limit=1.2, prompt=f"c{n}")
            outcomes.append("create")
        except BudgetExceeded:
            outcomes.append("refused")

    async with anyio.create_task_group() as group:
        for n in range(20):
            group.start_soon(create, n)
            if n < 3:
                group.start_soon(segment, n)
    assert (outcomes.count("segment"), outcomes.count("create"), outcomes.count("refused")) == (3, 3, 17)
    assert (await ledger.budget("local", 1.2)).spent_usd == pytest.approx(1.2)


# -- migrations and failures -----------------------------------------------------------------------------------


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    return tmp_path / "data" / "nested" / "ledger.sqlite3"


async def test_sqlite_file_is_created_in_wal_mode_with_the_schema_version(sqlite_file: Path) -> None:
    path = sqlite_file
    ledger = Ledger(Location.sqlite(path))
    await ledger.list("local")
    await ledger.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    finally:
        conn.close()


async def test_a_v2_file_from_the_previous_version_migrates_to_the_local_tenant(sqlite_file: Path) -> None:
    path, location = sqlite_file, Location.sqlite(sqlite_file)
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path, isolation_level=None)
    for version in SQLITE_MIGRATIONS[:2]:
        for statement in version:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    for n, status in enumerate(("completed", "creating", "queued")):
        conn.execute(
            "INSERT INTO jobs (local_id, kind, video_id, backend, profile, model, seconds, size, prompt, "
            "request_fingerprint, estimated_cost_micros, status, created_at, updated_at, day, idempotency_key) "
            "VALUES (?, 'create', ?, 'sandbox', 'apiyi', 'sora-2', 4, '1280x720', ?, 'fp', 400000, ?, 1.0, 1.0, "
            "'2027-01-15', ?)",
            (f"job-{n}", f"video_{n}" if status != "creating" else None, f"old {n}", status, "key" if n else None),
        )
    conn.close()
    ledger = Ledger(location)
    try:
        listed = await ledger.list("local")
        assert [r.prompt for r in listed] == ["old 2", "old 1", "old 0"]  # equal times: the old rowid order
        assert {r.tenant for r in listed} == {"local"} and {r.parent_id for r in listed} == {None}
        assert (await ledger.get("local", "video_0")).status == "completed"  # type: ignore[union-attr]
        assert await ledger.unresolved() == (listed[1],)
        assert (await ledger.budget("local", 10, "sandbox", day="2027-01-15")).spent_usd == pytest.approx(1.2)
        plan = await ledger.record_intent("local", intent(kind="long"), daily_limit_usd=10)
        assert plan.kind == "long"  # the new kind passes the rebuilt CHECK constraint
    finally:
        await ledger.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    check.close()


async def test_migration_upgrades_an_empty_v0_file_and_is_idempotent(sqlite_file: Path) -> None:
    path, location = sqlite_file, Location.sqlite(sqlite_file)
    path.parent.mkdir(parents=True)
    sqlite3.connect(path).close()
    for _ in range(2):
        ledger = Ledger(location)
        await record(ledger)
        await ledger.close()
    ledger = Ledger(location)
    assert len(await ledger.list("local")) == 2
    await ledger.close()


async def test_a_ledger_from_a_newer_version_is_refused(location: Location) -> None:
    if location.path is not None:
        location.path.parent.mkdir(parents=True)
        conn = sqlite3.connect(location.path)
        conn.execute("PRAGMA user_version = 99")
        conn.close()
    else:
        ledger = Ledger(location)
        await ledger.list("local")
        await ledger.close()
        engine = sa.create_engine(location.url.set(drivername="postgresql+psycopg"))
        with engine.begin() as server:
            server.exec_driver_sql("UPDATE sora_mcp_schema SET version = 99")
        engine.dispose()
    ledger = Ledger(location)
    try:
        with pytest.raises(LedgerVersionError, match="schema v99"):
            await ledger.list("local")
    finally:
        await ledger.close()


_HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(60)
"""


async def test_a_locked_file_is_named_and_a_corrupt_one_kept(sqlite_file: Path) -> None:
    path = sqlite_file
    ledger = Ledger(Location.sqlite(path), busy_timeout_s=0.5)
    await record(ledger)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(LedgerUnavailable, match=r"busy \(another sora-mcp process\?\)"):
            await record(ledger, prompt="while locked")
        assert len(await ledger.list("local")) == 1  # readers are not blocked in WAL mode
    finally:
        holder.kill()
        holder.wait()
    assert (await record(ledger, prompt="after")).prompt == "after"
    await ledger.close()

    broken = path.with_name("broken.sqlite3")
    garbage = b"this is not a database" * 100
    broken.write_bytes(garbage)
    damaged = Ledger(Location.sqlite(broken))
    try:
        with pytest.raises(LedgerUnavailable, match="move it aside"):
            await damaged.list("local")
    finally:
        await damaged.close()
    assert broken.read_bytes() == garbage


async def test_an_unreachable_server_is_named_without_its_password(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    location = Location.resolve(f"postgresql://sora:s3cret-pass@127.0.0.1:{port}/jobs", tmp_path)
    assert location.shown == f"postgresql://sora:***@127.0.0.1:{port}/jobs"
    ledger = Ledger(location)
    try:
        with pytest.raises(LedgerUnavailable) as caught:
            await ledger.list("local")
    finally:
        await ledger.close()
    assert "s3cret-pass" not in str(caught.value) and f"127.0.0.1:{port}" in str(caught.value)
    assert caught.value.problem().stage == "storage"


async def test_a_call_cancelled_mid_statement_leaves_no_task_behind(tmp_path: Path) -> None:
    """Cancelled ledger calls finish their transaction first; none leaves SQLAlchemy a connection to terminate
    (with aiosqlite that termination could wait forever and hang the event loop's shutdown)."""
    import asyncio

    before = set(asyncio.all_tasks())
    ledger = Ledger(Location.sqlite(tmp_path / "ledger.sqlite3"))
    await ledger.record_intent("local", intent(), daily_limit_usd=100.0)
    for step in range(40):
        with anyio.move_on_after(step * 0.0005):
            await ledger.list("local")
        with anyio.move_on_after(step * 0.0005):
            await ledger.record_intent("local", intent(prompt=f"take {step}"), daily_limit_usd=100.0)
    await ledger.close()
    await anyio.sleep(0.2)
    assert [t for t in asyncio.all_tasks() - before if not t.done()] == []
