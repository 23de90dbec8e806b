"""Benchmark: sora-mcp over streamable HTTP, one replica vs two replicas on one PostgreSQL behind HAProxy.

One run, both layouts side by side, each on its own fresh database and its own standalone sandbox:
- 1 replica: HAProxy -> one `sora-mcp serve --transport http`;
- 2 replicas: HAProxy (round robin) -> two of them, sharing the PostgreSQL job store and the link secret.
N concurrent MCP clients (the SDK's streamable-HTTP client) run for the given seconds, mixing `tools/list`,
`validate_params` and `create_video` -> `get_video_status` (until completed) on the sandbox provider. Creates
cost $0.40 each under a daily budget that admits `--budget-jobs` of them, so the run also checks budget
exactness across replicas. Afterwards the provider's own job list is compared with what the clients were told:
lost jobs (a job id a client got that the provider never made) and duplicated jobs (provider jobs no admitted
create accounts for) should both be 0.

Needs Debian's `haproxy` and `postgresql` (`apt-get install haproxy postgresql`).

    python -m bench.bench_http [--clients 50] [--seconds 60] [--budget-jobs 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp.client import Client

from tests.postgres_support import Cluster, find_bindir, start_cluster

KEY = "sk-bench-http"
SIZE = "720x1280"
SECONDS = "4"
COST_USD = 0.40
SORA_MCP = (sys.executable, "-m", "sora_mcp")
CALL_TYPES = ("tools/list", "validate_params", "create_video", "get_video_status")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status < 500:
                    return
        except OSError:
            if time.monotonic() > end:
                raise RuntimeError(f"{url} did not answer within {deadline_s:g} s") from None
        time.sleep(0.1)


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as sink:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=sink)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Layout:
    """One deployment: a sandbox, N replicas and HAProxy in front, on one database."""

    url: str
    sandbox_url: str


@contextmanager
def deployment(replicas: int, workdir: Path, postgres: Cluster, budget_usd: float) -> Iterator[Layout]:
    database_url = postgres.url(postgres.create_database())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SORA_MCP_", "OPENAI_", "OPENROUTER_"))}
    env["PYTHONUNBUFFERED"] = "1"
    with ExitStack() as stack:
        sandbox = stack.enter_context(
            process(
                [*SORA_MCP, "sandbox", "--port", "0", "--profile", "openai", "--api-key", KEY, "--time-scale", "0.25"],
                env,
                workdir / f"sandbox-{replicas}.log",
            )
        )
        assert sandbox.stdout is not None
        sandbox_url = sandbox.stdout.readline().decode().split()[3]  # "sora-mcp sandbox serving <url> (...)"
        secret = secrets.token_urlsafe(32)
        ports = [free_port() for _ in range(replicas)]
        for index, port in enumerate(ports):
            replica_env = env | {
                "SORA_MCP_DATABASE_URL": database_url,
                "SORA_MCP_LINK_SECRET": secret,
                "SORA_MCP_HOME": str(workdir / f"home-{replicas}-{index}"),
                "SORA_MCP_OUTPUT_DIR": str(workdir / f"out-{replicas}-{index}"),
                "SORA_MCP_BACKEND": "provider",
                "OPENAI_BASE_URL": sandbox_url,
                "OPENAI_API_KEY": KEY,
                "SORA_MCP_PROFILE": "openai",
                "SORA_MCP_DAILY_BUDGET_USD": str(budget_usd),
                "SORA_MCP_LOG_LEVEL": "WARNING",
            }
            stack.enter_context(
                process(
                    [*SORA_MCP, "serve", "--transport", "http", "--no-auth", "--port", str(port)],
                    replica_env,
                    workdir / f"replica-{replicas}-{index}.log",
                )
            )
        for port in ports:
            wait_http(f"http://127.0.0.1:{port}/healthz")
        front = free_port()
        config = workdir / f"haproxy-{replicas}.cfg"
        config.write_text(haproxy_config(front, ports))
        stack.enter_context(process(["haproxy", "-db", "-f", str(config)], env, workdir / f"haproxy-{replicas}.log"))
        wait_http(f"http://127.0.0.1:{front}/healthz")
        yield Layout(url=f"http://127.0.0.1:{front}/mcp", sandbox_url=sandbox_url)


def haproxy_config(front: int, ports: list[int]) -> str:
    servers = "\n".join(f"    server r{i} 127.0.0.1:{port} check" for i, port in enumerate(ports))
    return f"""global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    option http-server-close
frontend mcp
    bind 127.0.0.1:{front}
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /healthz
{servers}
"""


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in CALL_TYPES})
    errors: dict[str, int] = field(default_factory=dict)
    admitted: list[str] = field(default_factory=list)
    refused_budget: int = 0
    completed: set[str] = field(default_factory=set)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def _error_code(result: Any) -> str:
    """The `code` of an error result's JSON block (sora-mcp puts the structured error in content[1])."""
    try:
        return str(json.loads(result.content[1].text).get("code", "?"))
    except (IndexError, AttributeError, ValueError):
        return "?"


async def timed(tally: Tally, name: str, call: Any) -> Any:
    started = time.perf_counter()
    result = await call
    tally.latencies[name].append(time.perf_counter() - started)
    return result


async def worker(url: str, index: int, deadline: float, tally: Tally) -> None:
    rng = random.Random(index)
    try:
        async with Client(url) as client:
            while time.monotonic() < deadline:
                roll = rng.random()
                if roll < 0.4:
                    await timed(tally, "tools/list", client.list_tools())
                elif roll < 0.8:
                    arguments = {"model": "sora-2", "seconds": rng.choice(["3", "7", "10"]), "size": "720p portrait"}
                    result = await timed(tally, "validate_params", client.call_tool("validate_params", arguments))
                    if result.is_error:
                        tally.error("validate_params")
                else:
                    await create_and_finish(client, index, rng, deadline, tally)
    except Exception as exc:  # a benchmark counts every failure instead of stopping on it
        tally.error(f"client: {type(exc).__name__}: {exc}"[:120])


async def create_and_finish(client: Client, index: int, rng: random.Random, deadline: float, tally: Tally) -> None:
    video = {"model": "sora-2", "seconds": SECONDS, "size": SIZE}
    arguments = {"prompt": f"bench {index} {rng.random()}", "video": video, "wait_seconds": 0}
    result = await timed(tally, "create_video", client.call_tool("create_video", arguments))
    if result.is_error:
        if _error_code(result) == "budget_exceeded":
            tally.refused_budget += 1
        else:
            tally.error(f"create_video: {_error_code(result)}")
        return
    job = result.structured_content or {}
    video_id = str(job.get("video_id") or job.get("job_id"))
    tally.admitted.append(video_id)
    while time.monotonic() < deadline + 60:
        status = await timed(
            tally, "get_video_status", client.call_tool("get_video_status", {"video_id": video_id, "wait_seconds": 3})
        )
        if status.is_error:
            tally.error(f"get_video_status: {_error_code(status)}")
            return
        state = (status.structured_content or {}).get("status")
        if state == "completed":
            tally.completed.add(video_id)
            return
        if state in ("failed", "expired", "cancelled"):
            tally.error(f"job {state}")
            return


def provider_jobs(sandbox_url: str) -> list[str]:
    ids: list[str] = []
    after: str | None = None
    while True:
        query = "?limit=100" + (f"&after={after}" if after else "")
        request = urllib.request.Request(f"{sandbox_url}/videos{query}", headers={"Authorization": f"Bearer {KEY}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            page = json.load(answer)
        ids.extend(str(item["id"]) for item in page["data"])
        if not page.get("has_more"):
            return ids
        after = ids[-1]


@dataclass
class Outcome:
    replicas: int
    seconds: float
    tally: Tally
    provider_ids: list[str]
    budget_jobs: int


async def run_layout(layout: Layout, clients: int, seconds: float) -> Tally:
    tally = Tally()
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(worker(layout.url, i, deadline, tally) for i in range(clients)))
    return tally


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(outcomes: list[Outcome]) -> None:
    header = "| call | " + " | ".join(f"{o.replicas} replica(s): calls/s, p50, p99 ms" for o in outcomes) + " |"
    print(header)
    print("|" + "---|" * (len(outcomes) + 1))
    for name in CALL_TYPES:
        cells = []
        for o in outcomes:
            values = o.tally.latencies[name]
            cells.append(
                f"{len(values) / o.seconds:.1f}/s, {statistics.median(values) * 1000 if values else float('nan'):.0f}, "
                f"{percentile(values, 0.99) * 1000:.0f}"
            )
        print(f"| {name} | " + " | ".join(cells) + " |")
    for label, value in (
        ("errors", lambda o: sum(o.tally.errors.values())),
        ("admitted creates (budget admits)", lambda o: f"{len(o.tally.admitted)} ({o.budget_jobs})"),
        ("refused by the budget", lambda o: o.tally.refused_budget),
        ("completed and seen by a client", lambda o: len(o.tally.completed)),
        ("jobs at the provider", lambda o: len(o.provider_ids)),
        ("lost jobs", lambda o: len(set(o.tally.admitted) - set(o.provider_ids))),
        ("duplicated jobs", lambda o: len(o.provider_ids) - len(set(o.tally.admitted))),
    ):
        print(f"| {label} | " + " | ".join(str(value(o)) for o in outcomes) + " |")
    for o in outcomes:
        if o.tally.errors:
            print(f"errors with {o.replicas} replica(s): {o.tally.errors}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--budget-jobs", type=int, default=40, help="creates the daily budget admits")
    args = parser.parse_args()
    if shutil.which("haproxy") is None:
        print("haproxy is not installed: apt-get install haproxy", file=sys.stderr)
        return 2
    budget = round(args.budget_jobs * COST_USD, 2)
    outcomes: list[Outcome] = []
    bindir = find_bindir()
    if bindir is None:
        print("PostgreSQL is not installed: apt-get install postgresql", file=sys.stderr)
        return 2
    postgres = start_cluster(bindir)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
            for replicas in (1, 2):
                with deployment(replicas, Path(tmp), postgres, budget) as layout:
                    tally = asyncio.run(run_layout(layout, args.clients, args.seconds))
                    jobs = provider_jobs(layout.sandbox_url)
                    outcomes.append(Outcome(replicas, args.seconds, tally, jobs, args.budget_jobs))
    finally:
        postgres.stop()
    print(f"{args.clients} clients, {args.seconds:g} s per layout, budget ${budget:.2f} ({args.budget_jobs} creates)")
    report(outcomes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
