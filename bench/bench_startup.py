"""Benchmark: start-up to the `initialize` answer, and in-process tools/list and validate_params latency.

Start-up is compared side by side, in one run, with a bare `MCPServer` that has one trivial tool; runs are
interleaved so machine noise hits both alike. Target: ratio <= 1.2; tools/list and validate_params < 5 ms.

    python bench/bench_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

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


async def in_process_latency(runs: int) -> tuple[float, float]:
    from mcp import Client

    from sora_mcp.server import build_server
    from sora_mcp.settings import Settings

    server = build_server(Settings.resolve(env={}))
    list_times: list[float] = []
    validate_times: list[float] = []
    async with Client(server) as client:
        for _ in range(runs):
            start = time.perf_counter()
            await client.list_tools()
            list_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            await client.call_tool("validate_params", {"model": "sora-2", "seconds": 10, "size": "1080p"})
            validate_times.append(time.perf_counter() - start)
    return statistics.median(list_times), statistics.median(validate_times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "HOME": home, "SORA_MCP_HOME": str(Path(home) / "data")}
        env.pop("OPENAI_API_KEY", None)
        ours = [sys.executable, "-m", "sora_mcp", "serve"]
        bare = [sys.executable, "-c", BARE_SERVER]
        time_to_initialize(ours, env)  # warm the file cache for both
        time_to_initialize(bare, env)
        ours_times: list[float] = []
        bare_times: list[float] = []
        for _ in range(args.runs):
            ours_times.append(time_to_initialize(ours, env))
            bare_times.append(time_to_initialize(bare, env))
    ours_median, bare_median = statistics.median(ours_times), statistics.median(bare_times)
    ratio = ours_median / bare_median
    list_median, validate_median = anyio.run(in_process_latency, 200)
    print(f"start-up to initialize: sora-mcp {ours_median * 1000:.0f} ms, bare MCPServer {bare_median * 1000:.0f} ms")
    print(f"  ratio {ratio:.2f} (target <= 1.20): {'PASS' if ratio <= 1.2 else 'FAIL'}")
    print(f"tools/list in-process median: {list_median * 1000:.2f} ms (target < 5 ms)")
    print(f"validate_params in-process median: {validate_median * 1000:.2f} ms (target < 5 ms)")
    ok = ratio <= 1.2 and list_median < 0.005 and validate_median < 0.005
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
