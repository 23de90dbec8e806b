"""The job ledger on a real SQLite file: round trips, restarts, crashes, merges, migrations."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from sora_mcp.jobs import (
    BudgetExceeded,
    JobNotFound,
    JobRecord,
    Ledger,
    LedgerConflict,
    LedgerVersionError,
    SyncLedger,
    request_fingerprint,
)
from sora_mcp.jobs.ledger import MIGRATIONS, SCHEMA_VERSION


def intent(ledger: SyncLedger, **overrides: Any) -> JobRecord:
    args: dict[str, Any] = {
        "kind": "create",
        "backend": "provider (test)",
        "base_url": None,
        "profile": "openai",
        "model": "sora-2",
        "seconds": 4,
        "size": "720x1280",
        "prompt": "a red fox running through snow",
        "estimated_cost_usd": 0.4,
        "daily_limit_usd": 10.0,
    }
    args.update(overrides)
    return ledger.record_intent(**args)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:  # 2027-01-15T08:00:00Z
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "nested" / "ledger.sqlite3"


def test_file_is_created_in_wal_mode_with_the_schema_version(db: Path) -> None:
    with SyncLedger(db):
        pass
    assert db.is_file()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    finally:
        conn.close()


def test_intent_answer_progress_completion_and_files_round_trip(db: Path, tmp_path: Path) -> None:
    clock = Clock()
    with SyncLedger(db, clock=clock) as ledger:
        ref = tmp_path / "ref.png"
        created = intent(ledger, reference_path=ref, reference_sha256="ab" * 32)
        assert created.status == "creating"
        assert created.video_id is None
        assert created.created_at == created.updated_at == clock.now
        assert created.day == "2027-01-15"
        assert created.estimated_cost_usd == 0.4
        assert created.reference_path == str(ref)
        assert created.request_fingerprint == request_fingerprint(
            model="sora-2", seconds=4, size="720x1280", prompt=created.prompt, reference_sha256="ab" * 32
        )

        clock.now += 2
        queued = ledger.attach_video_id(created.local_id, "video_1", status="queued", expires_at=clock.now + 3600)
        assert (queued.video_id, queued.status, queued.progress) == ("video_1", "queued", 0)
        assert queued.expires_at == clock.now + 3600
        assert queued.updated_at == clock.now

        clock.now += 5
        running = ledger.update_from_provider("video_1", "in_progress", progress=40)
        assert (running.status, running.progress) == ("in_progress", 40)
        done = ledger.update_from_provider("video_1", "completed", completed_at=clock.now - 1, final_cost_usd=0.4)
        assert (done.status, done.progress, done.completed_at, done.final_cost_usd) == (
            "completed",
            100,
            clock.now - 1,
            0.4,
        )
        assert ledger.undownloaded() == (done,)

        files = ledger.set_files(
            "video_1", video_path=tmp_path / "v.mp4", thumbnail_path=tmp_path / "t.webp", spritesheet_path=None
        )
        assert files.video_path == str(tmp_path / "v.mp4")
        assert files.thumbnail_path == str(tmp_path / "t.webp")
        assert files.spritesheet_path is None
        assert files.downloaded_at == clock.now
        assert ledger.undownloaded() == ()

        assert ledger.get("video_1") == files
        assert ledger.get(created.local_id) == files
        assert ledger.get("video_unknown") is None
        assert files.to_dict()["video_id"] == "video_1"


def test_a_new_ledger_on_the_same_file_sees_everything(db: Path) -> None:
    """The restart case: a second server process (or a restarted one) resumes from the file alone."""
    first = SyncLedger(db)
    waiting = intent(first, prompt="still creating")
    queued = first.attach_video_id(intent(first, prompt="queued").local_id, "video_q")
    running = first.update_from_provider(
        first.attach_video_id(intent(first, prompt="running").local_id, "video_r").local_id, "in_progress", progress=7
    )
    done = first.update_from_provider(
        first.attach_video_id(intent(first, prompt="done").local_id, "video_d").local_id, "completed"
    )
    first.close()

    second = SyncLedger(db)
    try:
        assert second.unresolved() == (waiting,)
        assert second.active() == (queued, running)
        assert second.undownloaded() == (done,)
        assert {r.local_id for r in second.list()} == {
            waiting.local_id,
            queued.local_id,
            running.local_id,
            done.local_id,
        }
        assert second.spent_usd() == pytest.approx(1.6)
    finally:
        second.close()


def _crash_after_intent(path: str, conn: Connection) -> None:
    ledger = SyncLedger(Path(path))
    record = intent(ledger, prompt="crash before the answer")
    conn.send(record.local_id)
    os._exit(3)  # no close, no cleanup: as if the server was killed while the create request was in flight


def test_unresolved_after_a_real_crash_between_intent_and_answer(db: Path) -> None:
    SyncLedger(db).close()
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_crash_after_intent, args=(str(db), sender))
    process.start()
    local_id = receiver.recv()
    process.join(30)
    assert process.exitcode == 3

    with SyncLedger(db) as ledger:
        (pending,) = ledger.unresolved()
        assert pending.local_id == local_id
        assert pending.status == "creating"
        assert ledger.spent_usd() == pytest.approx(0.4)  # the reservation holds until reconciled
        assert ledger.active() == ()
        # reconciliation found our job among the provider's: it was accepted after all
        found = ledger.attach_video_id(local_id, "video_late", status="in_progress", progress=30)
        assert found.status == "in_progress"
        assert ledger.unresolved() == ()
        assert ledger.active() == (found,)


def test_unresolved_can_skip_creates_that_may_still_be_in_flight(db: Path) -> None:
    clock = Clock()
    with SyncLedger(db, clock=clock) as ledger:
        old = intent(ledger)
        clock.now += 100
        intent(ledger)
        assert ledger.unresolved(min_age_s=60) == (old,)
        assert len(ledger.unresolved()) == 2


def test_stale_answers_never_move_a_job_backwards(db: Path) -> None:
    with SyncLedger(db) as ledger:
        local_id = intent(ledger).local_id
        ledger.attach_video_id(local_id, "video_1", status="in_progress", progress=50)
        assert ledger.update_from_provider("video_1", "in_progress", progress=30).progress == 50
        assert ledger.update_from_provider("video_1", "queued", progress=0).status == "in_progress"
        done = ledger.update_from_provider("video_1", "completed")
        assert (done.status, done.progress) == ("completed", 100)
        late = ledger.update_from_provider("video_1", "in_progress", progress=90)
        assert (late.status, late.progress) == ("completed", 100)
        assert ledger.update_from_provider("video_1", "failed", error_code="x").status == "completed"
        assert ledger.get("video_1") is not None and ledger.get("video_1").error_code is None  # type: ignore[union-attr]
        expired = ledger.update_from_provider("video_1", "expired")
        assert expired.status == "expired" and expired.assets_expired()
        assert ledger.update_from_provider("video_1", "deleted").status == "deleted"


def test_failed_job_keeps_the_providers_reason(db: Path) -> None:
    with SyncLedger(db) as ledger:
        ledger.attach_video_id(intent(ledger).local_id, "video_f", status="in_progress", progress=10)
        failed = ledger.update_from_provider(
            "video_f", "failed", error_code="moderation_blocked", error_message="Your request was blocked"
        )
        assert (failed.status, failed.error_code, failed.error_message, failed.progress) == (
            "failed",
            "moderation_blocked",
            "Your request was blocked",
            10,
        )
        assert ledger.active() == ()
        assert ledger.list(statuses=["failed"]) == (failed,)


def test_video_ids_are_attached_once(db: Path) -> None:
    with SyncLedger(db) as ledger:
        a = intent(ledger, prompt="a")
        b = intent(ledger, prompt="b")
        ledger.attach_video_id(a.local_id, "video_a")
        again = ledger.attach_video_id(a.local_id, "video_a", status="in_progress", progress=5)  # same answer twice
        assert (again.status, again.progress) == ("in_progress", 5)
        with pytest.raises(LedgerConflict, match="already has video id video_a"):
            ledger.attach_video_id(a.local_id, "video_other")
        with pytest.raises(LedgerConflict, match="already belongs to job"):
            ledger.attach_video_id(b.local_id, "video_a")
        with pytest.raises(JobNotFound):
            ledger.attach_video_id("no-such-job", "video_z")
        with pytest.raises(JobNotFound):
            ledger.update_from_provider("video_z", "queued")
        with pytest.raises(ValueError, match="status 'creating'"):
            ledger.update_from_provider("video_a", "creating")


def test_create_failed_releases_the_reservation_and_a_billed_job_cannot_be_failed(db: Path) -> None:
    with SyncLedger(db) as ledger:
        rejected = intent(ledger, estimated_cost_usd=1.0)
        accepted = intent(ledger, estimated_cost_usd=2.0)
        assert ledger.spent_usd() == pytest.approx(3.0)
        failed = ledger.mark_create_failed(rejected.local_id, "invalid_value", "Invalid value: '10'.")
        assert (failed.status, failed.error_code) == ("create_failed", "invalid_value")
        assert ledger.spent_usd() == pytest.approx(2.0)
        assert ledger.unresolved() == (accepted,)

        ledger.attach_video_id(accepted.local_id, "video_acc")
        with pytest.raises(LedgerConflict, match="cannot be marked create_failed"):
            ledger.mark_create_failed(accepted.local_id, None, None)
        assert ledger.spent_usd() == pytest.approx(2.0)

        # a late reconciliation finds the "rejected" create at the provider after all: it counts again
        revived = ledger.attach_video_id(rejected.local_id, "video_rev")
        assert (revived.status, revived.error_code) == ("queued", None)
        assert ledger.spent_usd() == pytest.approx(3.0)


def test_list_is_newest_first_limited_and_filtered(db: Path) -> None:
    clock = Clock()
    with SyncLedger(db, clock=clock) as ledger:
        records = []
        for n in range(5):
            clock.now += 1
            records.append(intent(ledger, prompt=f"clip {n}"))
        ledger.attach_video_id(records[1].local_id, "video_1")
        assert [r.prompt for r in ledger.list(limit=3)] == ["clip 4", "clip 3", "clip 2"]
        assert [r.prompt for r in ledger.list(statuses=["queued"])] == ["clip 1"]
        assert ledger.list(statuses=[]) == ()
        with pytest.raises(ValueError):
            ledger.list(statuses=["bogus"])  # type: ignore[list-item]


def test_claim_retrieve_spaces_retrieves_across_instances(db: Path) -> None:
    clock = Clock()
    one = SyncLedger(db, clock=clock)
    two = SyncLedger(db, clock=clock)  # another process, as far as SQLite is concerned
    try:
        one.attach_video_id(intent(one).local_id, "video_1")
        assert one.claim_retrieve("video_1") is True
        assert two.claim_retrieve("video_1") is False
        clock.now += 0.99
        assert two.claim_retrieve("video_1") is False
        clock.now += 0.02
        assert two.claim_retrieve("video_1") is True
        assert one.claim_retrieve("video_1") is False
    finally:
        one.close()
        two.close()


def test_fingerprint_is_stable_and_sensitive_to_every_part() -> None:
    base: dict[str, Any] = {"model": "sora-2", "seconds": 4, "size": "720x1280", "prompt": "p", "reference_sha256": "r"}
    fp = request_fingerprint(**base)
    assert fp == request_fingerprint(**base)
    assert len(fp) == 64
    assert request_fingerprint(**{**base, "seconds": "4"}) == fp  # the wire's string seconds match
    variants: list[dict[str, Any]] = [
        {"model": "sora-2-pro"},
        {"seconds": 8},
        {"size": "1280x720"},
        {"prompt": "p "},
        {"reference_sha256": None},
        {"kind": "remix"},
        {"parent_video_id": "video_0"},
    ]
    assert len({request_fingerprint(**{**base, **v}) for v in variants} | {fp}) == len(variants) + 1


def test_invalid_requests_are_refused_before_writing(db: Path) -> None:
    with SyncLedger(db) as ledger:
        with pytest.raises(ValueError, match="seconds"):
            intent(ledger, seconds=0)
        with pytest.raises(ValueError, match="status 'movie'"):
            intent(ledger, kind="movie")
        with pytest.raises(ValueError, match="money"):
            intent(ledger, estimated_cost_usd=-1.0)
        assert ledger.list() == ()


def test_a_ledger_from_a_newer_version_is_refused(db: Path) -> None:
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(LedgerVersionError, match="schema v99"):
        SyncLedger(db)


def test_migration_upgrades_an_empty_v0_file_and_is_idempotent(db: Path) -> None:
    db.parent.mkdir(parents=True)
    sqlite3.connect(db).close()
    with SyncLedger(db) as ledger:
        intent(ledger)
    with SyncLedger(db) as ledger:
        assert len(ledger.list()) == 1


def test_closed_ledger_refuses_work(db: Path) -> None:
    ledger = SyncLedger(db)
    ledger.close()
    with pytest.raises(Exception, match="closed"):
        ledger.list()


@pytest.mark.anyio
async def test_async_facade_runs_the_same_operations(db: Path) -> None:
    ledger = Ledger(db)
    try:
        created = await ledger.record_intent(
            kind="remix",
            backend="provider",
            base_url="https://api.example/v1",
            profile="apiyi",
            model="sora-2",
            seconds=8,
            size="1280x720",
            prompt="same, at night",
            estimated_cost_usd=0.8,
            daily_limit_usd=5,
            parent_video_id="video_parent",
        )
        assert (created.kind, created.parent_video_id, created.base_url) == (
            "remix",
            "video_parent",
            "https://api.example/v1",
        )
        assert await ledger.unresolved() == (created,)
        await ledger.attach_video_id(created.local_id, "video_x", status="in_progress", progress=1)
        assert [r.video_id for r in await ledger.active()] == ["video_x"]
        assert await ledger.claim_retrieve("video_x") is True
        await ledger.update_from_provider("video_x", "completed")
        assert [r.video_id for r in await ledger.undownloaded()] == ["video_x"]
        done = await ledger.set_files("video_x", video_path="/tmp/x.mp4")
        assert done.video_path == "/tmp/x.mp4"
        assert await ledger.get("video_x") == done
        assert await ledger.list(statuses=["completed"]) == (done,)
        assert await ledger.spent_usd() == pytest.approx(0.8)
        snapshot = await ledger.budget(5)
        assert (snapshot.limit_usd, snapshot.spent_usd, snapshot.remaining_usd) == (5, 0.8, 4.2)
        failed = await ledger.record_intent(
            kind="create",
            backend="provider",
            base_url=None,
            profile="apiyi",
            model="sora-2",
            seconds=4,
            size="1280x720",
            prompt="x",
            estimated_cost_usd=0.4,
            daily_limit_usd=5,
        )
        assert (await ledger.mark_create_failed(failed.local_id, "invalid_value", "no")).status == "create_failed"
    finally:
        ledger.close()


# -- long videos: a plan (kind `long`) and its segments ----------------------------------------------------


def test_a_v2_file_gains_parent_and_segment_columns_and_the_long_kind(db: Path) -> None:
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    for version in range(2):
        for statement in MIGRATIONS[version]:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.execute(
        "INSERT INTO jobs (local_id, kind, backend, profile, model, seconds, size, prompt, request_fingerprint, "
        "estimated_cost_micros, status, created_at, updated_at, day, idempotency_key) "
        "VALUES ('old', 'create', 'sandbox', 'openai', 'sora-2', 4, '1280x720', 'kept', 'f', 400000, 'completed', "
        "1, 1, '2027-01-15', 'k1')"
    )
    conn.commit()
    conn.close()
    with SyncLedger(db) as ledger:
        old = ledger.get("old")
        plan = intent(ledger, kind="long", seconds=36, estimated_cost_usd=3.6)
        segment = intent(ledger, parent_id=plan.local_id, segment=0, seconds=12, estimated_cost_usd=1.2)
    assert old is not None and (old.prompt, old.idempotency_key, old.parent_id, old.segment) == (
        "kept",
        "k1",
        None,
        None,
    )
    assert plan.kind == "long" and (segment.parent_id, segment.segment) == (plan.local_id, 0)


def test_a_segment_moves_its_cost_out_of_the_plans_reservation(db: Path) -> None:
    with SyncLedger(db, clock=Clock()) as ledger:
        plan = intent(ledger, kind="long", seconds=36, estimated_cost_usd=3.6, daily_limit_usd=3.6)
        assert ledger.spent_usd("2027-01-15") == 3.6
        first = intent(
            ledger, parent_id=plan.local_id, segment=0, seconds=12, estimated_cost_usd=1.2, daily_limit_usd=3.6
        )
        second = intent(
            ledger, parent_id=plan.local_id, segment=1, seconds=12, estimated_cost_usd=1.2, daily_limit_usd=3.6
        )
        third = intent(
            ledger, parent_id=plan.local_id, segment=2, seconds=12, estimated_cost_usd=1.2, daily_limit_usd=3.6
        )
        after = ledger.get(plan.local_id)
        assert after is not None and after.estimated_cost_usd == 0.0  # floored at 0, never negative
        assert ledger.spent_usd("2027-01-15") == 3.6  # the total reserved stayed the same: every segment fit
        assert ledger.children(plan.local_id) == (first, second, third)
        with pytest.raises(BudgetExceeded):  # the plan's reservation is used up: a fourth segment is new spend
            intent(ledger, parent_id=plan.local_id, segment=3, seconds=4, estimated_cost_usd=0.4, daily_limit_usd=3.6)
        with pytest.raises(BudgetExceeded):  # nothing else fits while the plan holds the day's budget
            intent(ledger, prompt="another video", estimated_cost_usd=0.4, daily_limit_usd=3.6)


def test_a_failed_plan_releases_what_its_segments_did_not_take(db: Path) -> None:
    with SyncLedger(db, clock=Clock()) as ledger:
        plan = intent(ledger, kind="long", seconds=36, estimated_cost_usd=3.6)
        done = intent(ledger, parent_id=plan.local_id, segment=0, seconds=12, estimated_cost_usd=1.2)
        ledger.attach_video_id(done.local_id, "video_s0")
        ledger.update_from_provider("video_s0", "completed", final_cost_usd=1.2)
        failing = intent(ledger, parent_id=plan.local_id, segment=1, seconds=12, estimated_cost_usd=1.2)
        ledger.attach_video_id(failing.local_id, "video_s1")
        ledger.update_from_provider("video_s1", "failed", error_code="moderation_blocked")
        assert ledger.spent_usd("2027-01-15") == pytest.approx(2.4)  # segment 0 billed + 1.2 still reserved
        stopped = ledger.update_from_provider(plan.local_id, "failed", error_code="segment_failed")
        assert stopped.status == "failed"
        assert ledger.spent_usd("2027-01-15") == pytest.approx(1.2)  # only the finished segment is billed
        late = intent(ledger, parent_id=plan.local_id, segment=2, seconds=12, estimated_cost_usd=1.2)
        assert ledger.get(plan.local_id) == stopped  # a failed plan reserves nothing, so nothing moves
        assert ledger.spent_usd("2027-01-15") == pytest.approx(2.4) and late.estimated_cost_usd == 1.2


def test_segments_are_listed_by_index_and_plans_are_not_provider_jobs(db: Path) -> None:
    with SyncLedger(db) as ledger:
        plan = intent(ledger, kind="long", seconds=20, estimated_cost_usd=2.0)
        later = intent(ledger, parent_id=plan.local_id, segment=1, prompt="second", estimated_cost_usd=0.8)
        earlier = intent(ledger, parent_id=plan.local_id, segment=0, prompt="first", estimated_cost_usd=1.2)
        assert ledger.children(plan.local_id) == (earlier, later)
        assert ledger.children("no-such-plan") == ()
        assert plan.local_id not in {r.local_id for r in ledger.unresolved()}  # never sent, never reconciled
        ledger.update_from_provider(plan.local_id, "in_progress", progress=10)
        assert plan.local_id not in {r.local_id for r in ledger.active()}
        with pytest.raises(JobNotFound):
            intent(ledger, parent_id=earlier.local_id, segment=0, prompt="not a plan")
        with pytest.raises(ValueError, match="both parent_id and segment"):
            intent(ledger, parent_id=plan.local_id, prompt="no index")


def test_the_same_idempotency_key_returns_the_segment_without_moving_cost_twice(db: Path) -> None:
    with SyncLedger(db) as ledger:
        plan = intent(ledger, kind="long", seconds=24, estimated_cost_usd=2.4)
        key = f"long:{plan.local_id}:0"
        first = intent(
            ledger, parent_id=plan.local_id, segment=0, seconds=12, estimated_cost_usd=1.2, idempotency_key=key
        )
        again = intent(
            ledger, parent_id=plan.local_id, segment=0, seconds=12, estimated_cost_usd=1.2, idempotency_key=key
        )
        remaining = ledger.get(plan.local_id)
    assert again == first
    assert remaining is not None and remaining.estimated_cost_usd == 1.2
