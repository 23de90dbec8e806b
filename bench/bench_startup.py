"""Benchmark: start-up to the `initialize` answer, and in-process tools/list and validate_params latency.

Start-up is compared side by side, in one run, with a bare `MCPServer` that has one trivial tool; runs are
interleaved so machine noise hits all alike. Two sora-mcp set-ups are timed: the default (sandbox backend,
apiyi profile) and the openrouter profile on the provider backend with a cached 60-model listing (the live
catalog: the cached copy is used at once and nothing is fetched while it is fresh). tools/list and
validate_params are timed in-process on both catalogs. Target: ratio <= 1.2; tools/list and validate_params
medians < 5 ms.

    python bench/bench_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LISTING_MODELS = 60
UNUSED_BASE_URL = "http://127.0.0.1:9/api/v1"
"""The provider of the live-catalog set-up: never contacted while the cached listing is fresh."""

BARE_SERVER = """
from mcp.server.mcpserver import MCPServer
server = MCPServer("bare")
@server.tool()
def ping() -> str:
    return "pong"
server.run("stdio")
"""

INITIALIZE = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"},
        },
    }
)


def time_to_initialize(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(INITIALIZE + "\n")
    process.stdin.flush()
    line = process.stdout.readline()
    elapsed = time.perf_counter() - start
    process.kill()
    process.wait()
    assert json.loads(line)["result"]["serverInfo"], line
    return elapsed


def live_env(home: Path) -> dict[str, str]:
    """The openrouter profile on the provider backend, with its listing cache in `home`."""
    return {
        "OPENROUTER_API_KEY": "sk-or-v1-bench0000000000000000",
        "OPENAI_BASE_URL": UNUSED_BASE_URL,
        "SORA_MCP_PROFILE": "openrouter",
        "SORA_MCP_HOME": str(home / "live"),
    }


def write_cached_listing(home: Path) -> int:
    """Write the live catalog's cache as a fetch would (60 generated models, fetched now); creatable models."""
    from sora_mcp.live_catalog import CACHE_FORMAT, cache_path, listing_url, public_url
    from sora_mcp.runtime import Runtime
    from sora_mcp.settings import Settings
    from tests.test_listing import generated_listing

    settings = Settings.resolve(env=live_env(home), user_home=home)
    path = cache_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "format": CACHE_FORMAT,
        "url": public_url(listing_url(UNUSED_BASE_URL)),
        "fetched_at": dt.datetime.now(dt.UTC).isoformat(),
        "data": generated_listing(LISTING_MODELS)["data"],
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    runtime = Runtime.create(settings)
    assert runtime.live is not None and runtime.live.status.origin == "cache", "the cached listing was not used"
    return len(runtime.catalog.models)


async def in_process_latency(runs: int, env: dict[str, str], wish: dict[str, object]) -> tuple[float, float]:
    from mcp import Client

    from sora_mcp.server import build_server
    from sora_mcp.settings import Settings

    server = build_server(Settings.resolve(env=env))
    list_times: list[float] = []
    validate_times: list[float] = []
    async with Client(server) as client:
        for _ in range(runs):
            start = time.perf_counter()
            await client.list_tools(cache_mode="bypass")
            list_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            result = await client.call_tool("validate_params", wish)
            validate_times.append(time.perf_counter() - start)
        assert not result.is_error, result
    return statistics.median(list_times), statistics.median(validate_times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OPENROUTER_", "SORA_MCP_"))}
        env = {**base, "HOME": home, "SORA_MCP_HOME": str(Path(home) / "data")}
        creatable = write_cached_listing(Path(home))
        live = {**base, "HOME": home, **live_env(Path(home))}
        ours = [sys.executable, "-m", "sora_mcp", "serve"]
        bare = [sys.executable, "-c", BARE_SERVER]
        for command, environment in ((ours, env), (ours, live), (bare, env)):
            time_to_initialize(command, environment)  # warm the file cache for all
        times: dict[str, list[float]] = {"default": [], "live": [], "bare": []}
        for _ in range(args.runs):
            times["default"].append(time_to_initialize(ours, env))
            times["live"].append(time_to_initialize(ours, live))
            times["bare"].append(time_to_initialize(bare, env))
        latency = {
            "default (sandbox, apiyi)": anyio.run(
                in_process_latency, 200, env, {"model": "sora-2", "seconds": 10, "size": "1080p"}
            ),
            f"openrouter, cached {LISTING_MODELS}-model listing": anyio.run(
                in_process_latency, 200, live, {"seconds": 10, "size": "720p landscape"}
            ),
        }
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratios = {name: medians[name] / medians["bare"] for name in ("default", "live")}
    print(f"start-up to initialize (median of {args.runs}, interleaved):")
    print(f"  bare MCPServer:                        {medians['bare'] * 1000:.0f} ms")
    print(f"  sora-mcp default (sandbox, apiyi):     {medians['default'] * 1000:.0f} ms")
    print(
        f"  sora-mcp openrouter, cached {LISTING_MODELS}-model listing ({creatable} creatable): "
        f"{medians['live'] * 1000:.0f} ms"
    )
    ok = True
    for name, ratio in ratios.items():
        print(f"  ratio {name}: {ratio:.2f} (target <= 1.20): {'PASS' if ratio <= 1.2 else 'FAIL'}")
        ok = ok and ratio <= 1.2
    for name, (list_median, validate_median) in latency.items():
        print(
            f"{name}: tools/list in-process median {list_median * 1000:.2f} ms, validate_params "
            f"{validate_median * 1000:.2f} ms (targets < 5 ms)"
        )
        ok = ok and list_median < 0.005 and validate_median < 0.005
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
