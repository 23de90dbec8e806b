"""Benchmark: ledger latency of record_intent and get, the previous ledger vs this one, side by side in one run.

- old sync: the previous `SyncLedger` (sqlite3, one blocking call), taken from git (`git show <rev>:…`) and
  imported under another module name;
- old async: the previous async facade (the same calls through `anyio.to_thread`), what the tools awaited;
- new sqlite: this `Ledger` on SQLAlchemy's asyncio engine with aiosqlite (what the tools await now);
- new postgresql: the same on a throwaway local PostgreSQL cluster (when one can be started).

Each variant writes `--n` intents one after another into a fresh database, then reads each back by id; the
table shows the median and p95 per call and the ratio of medians against "old async".

    python bench/bench_ledger.py [--n 300] [--rev main]
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio

from sora_mcp.jobs import JobIntent, Ledger, Location

ROOT = Path(__file__).resolve().parents[1]
FIELDS: dict[str, Any] = {
    "kind": "create",
    "backend": "provider (bench)",
    "base_url": None,
    "profile": "openai",
    "model": "sora-2",
    "seconds": 4,
    "size": "720x1280",
    "estimated_cost_usd": 0.01,
}


def old_module(rev: str) -> ModuleType | None:
    """The ledger module as it was at `rev`, imported as `sora_mcp_bench_old_ledger`; None without git."""
    try:
        text = subprocess.run(
            ["git", "show", f"{rev}:sora_mcp/jobs/ledger.py"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / "sora_mcp_bench_old_ledger.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("sora_mcp_bench_old_ledger", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def timed(calls: list[Callable[[], Awaitable[Any]]]) -> list[float]:
    seconds = []
    for call in calls:
        start = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - start)
    return seconds


async def measure_old(module: ModuleType, n: int, via_thread: bool) -> tuple[list[float], list[float]]:
    folder = Path(tempfile.mkdtemp())
    ledger = module.Ledger(folder / "ledger.sqlite3")
    sync = ledger.sync
    ids: list[str] = []

    async def intent(i: int) -> None:
        kwargs = {**FIELDS, "prompt": f"bench {i}", "daily_limit_usd": 1e6}
        record = await ledger.record_intent(**kwargs) if via_thread else sync.record_intent(**kwargs)
        ids.append(record.local_id)

    async def get(job_id: str) -> None:
        await ledger.get(job_id) if via_thread else sync.get(job_id)

    writes = await timed([functools.partial(intent, i) for i in range(n)])
    reads = await timed([functools.partial(get, j) for j in list(ids)])
    ledger.close()
    return writes, reads


async def measure_new(location: Location, n: int) -> tuple[list[float], list[float]]:
    ledger = Ledger(location)
    await ledger.list("local")  # open and migrate outside the timing, as the old constructor did
    ids: list[str] = []

    async def intent(i: int) -> None:
        made = JobIntent(**FIELDS, prompt=f"bench {i}")
        ids.append((await ledger.record_intent("local", made, daily_limit_usd=1e6)).local_id)

    async def get(job_id: str) -> None:
        await ledger.get("local", job_id)

    writes = await timed([functools.partial(intent, i) for i in range(n)])
    reads = await timed([functools.partial(get, j) for j in list(ids)])
    await ledger.close()
    return writes, reads


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(n: int, rev: str) -> None:
    results: dict[str, tuple[list[float], list[float]]] = {}
    old = old_module(rev)
    if old is None:
        print(f"(no previous ledger at git revision '{rev}': old variants skipped)")
    else:
        results["old sync"] = await measure_old(old, n, via_thread=False)
        results["old async"] = await measure_old(old, n, via_thread=True)
    results["new sqlite"] = await measure_new(Location.sqlite(Path(tempfile.mkdtemp()) / "ledger.sqlite3"), n)
    sys.path.insert(0, str(ROOT))
    from tests.postgres_support import find_bindir, start_cluster

    bindir = find_bindir()
    if bindir is None:
        print("(no PostgreSQL installed: new postgresql skipped)")
    else:
        cluster = start_cluster(bindir)
        try:
            results["new postgresql"] = await measure_new(Location.resolve(cluster.url(), ROOT), n)
        finally:
            cluster.stop()
    base = results.get("old async")
    print(f"{n} record_intent then {n} get, one after another (ms per call; ratio of medians vs old async)")
    print(f"{'variant':<16} {'intent p50':>10} {'p95':>7} {'ratio':>6}   {'get p50':>8} {'p95':>7} {'ratio':>6}")
    for name, (writes, reads) in results.items():
        w_ratio = statistics.median(writes) / statistics.median(base[0]) if base else float("nan")
        r_ratio = statistics.median(reads) / statistics.median(base[1]) if base else float("nan")
        print(
            f"{name:<16} {_ms(writes, 0.5):>10.3f} {_ms(writes, 0.95):>7.3f} {w_ratio:>6.2f}   "
            f"{_ms(reads, 0.5):>8.3f} {_ms(reads, 0.95):>7.3f} {r_ratio:>6.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--rev", default="main", help="git revision holding the previous ledger")
    args = parser.parse_args()
    anyio.run(main, args.n, args.rev)
