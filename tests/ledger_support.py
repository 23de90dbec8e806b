"""The ledger contract's fixtures: one `Ledger` factory per backend (a SQLite file, a fresh PostgreSQL database)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from sora_mcp.jobs import JobIntent, JobRecord, Ledger, Location

BACKENDS = ("sqlite", "postgresql")

INTENT = JobIntent(
    kind="create",
    backend="provider (test)",
    base_url=None,
    profile="openai",
    model="sora-2",
    seconds=4,
    size="720x1280",
    prompt="a red fox running through snow",
    estimated_cost_usd=0.4,
)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:  # 2027-01-15T08:00:00Z
        self.now = now

    def __call__(self) -> float:
        return self.now


def intent(**changes: Any) -> JobIntent:
    return dataclasses.replace(INTENT, **changes)


async def record(ledger: Ledger, tenant: str = "local", limit: float = 10.0, **changes: Any) -> JobRecord:
    return await ledger.record_intent(tenant, intent(**changes), daily_limit_usd=limit)


Opener = Callable[..., Ledger]
"""`open_ledger(clock=…)`: another Ledger on the test's database (as another process would open it)."""


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Location:
    """The test's database: a SQLite file that does not exist yet, or an empty PostgreSQL database."""
    if request.param == "sqlite":
        return Location.sqlite(tmp_path / "data" / "nested" / "ledger.sqlite3")
    url: str = request.getfixturevalue("postgres_url")
    return Location.resolve(url, tmp_path)


@pytest.fixture
async def open_ledger(location: Location) -> AsyncIterator[Opener]:
    opened: list[Ledger] = []

    def opener(**kwargs: Any) -> Ledger:
        ledger = Ledger(location, **kwargs)
        opened.append(ledger)
        return ledger

    yield opener
    for ledger in opened:
        await ledger.close()


@pytest.fixture
def ledger(open_ledger: Opener) -> Ledger:
    return open_ledger()
