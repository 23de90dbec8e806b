"""Benchmark the sandbox against the issue's targets.

1. CPU seconds to render a 4 s 1280x720 clip (target <= 1 s) and a 12 s 1792x1024 clip (target <= 4 s), each
   generated from a prompt and from a reference image, with an audio track (the expensive case). CPU is the
   process's user+system time from getrusage, so it includes libx264's and swscale's threads. Median of runs.
2. Requests per second for retrieve and list (target >= 500/s) against the standalone server
   (`python -m sora_mcp.sandbox.command sandbox`) pinned to one core, with a raw `http.client` keep-alive
   loop pinned to the other core (so the client does not steal the server's core). The same for the
   OpenRouter dialect (`--dialect openrouter`, the shipped openrouter profile): poll and the model listing.

Run: python bench/bench_sandbox.py [--runs 3] [--rps-seconds 3] [--dialect openai|openrouter|both]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from PIL import Image

from sora_mcp.sandbox.render import RenderSpec, Scene, render

PROMPT = "A calico cat plays a grand piano on a dimly lit stage; slow dolly in, warm spotlight, cinematic"
RENDER_TARGETS = [(1280, 720, 4, 1.0), (1792, 1024, 12, 4.0)]
RPS_TARGET = 500.0
AUTH = {"Authorization": "Bearer bench"}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def reference_png(width: int, height: int) -> bytes:
    """A photo-like reference: smooth gradients and soft shapes (noise would be an unfair worst case)."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0 : height // 8, 0 : width // 8].astype(np.float32)
    image = np.stack([60 + 120 * xx / xx.max(), 60 + 120 * yy / yy.max(), np.full_like(xx, 120)], axis=-1)
    for _ in range(8):
        cx, cy, r = rng.uniform(0, xx.max()), rng.uniform(0, yy.max()), rng.uniform(4, 30)
        image += rng.uniform(-60, 60, 3) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))[..., None]
    small = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    small.resize((width, height), Image.Resampling.BICUBIC).save(buffer, "PNG")
    return buffer.getvalue()


def bench_renders(runs: int) -> None:
    print(f"Render CPU (getrusage user+sys of the whole process, all threads; median of {runs} runs; 10 fps, AAC)")
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        render(RenderSpec(640, 360, 1, (Scene(0.0, "warm-up"),), audio=True), directory, "warmup")
        for width, height, seconds, target in RENDER_TARGETS:
            for kind, reference in (("prompt", None), ("reference", reference_png(width, height))):
                spec = RenderSpec(width, height, seconds, (Scene(0.0, PROMPT, reference),), audio=True)
                cpu: list[float] = []
                wall: list[float] = []
                for run in range(runs):
                    started_cpu, started_wall = cpu_seconds(), time.perf_counter()
                    assets = render(spec, directory, f"{kind}-{width}-{run}")
                    cpu.append(cpu_seconds() - started_cpu)
                    wall.append(time.perf_counter() - started_wall)
                size_kb = assets.video.stat().st_size / 1024
                used = statistics.median(cpu)
                print(
                    f"  {seconds:>2d} s {width}x{height} from {kind:<9s}: {used:5.2f} s CPU "
                    f"(wall {statistics.median(wall):4.2f} s, {size_kb:6.0f} KiB)  target <= {target:.0f} s  "
                    f"ratio {used / target:4.2f}  {'OK' if used <= target else 'OVER'}"
                )


def start_server(dialect: str = "openai") -> tuple[subprocess.Popen[str], str]:
    def pin_to_first_core() -> None:
        os.sched_setaffinity(0, {0})

    command = [sys.executable, "-m", "sora_mcp.sandbox.command", "sandbox", "--port", "0"]
    command += ["--profile", "openai"] if dialect == "openai" else ["--dialect", dialect]
    command += ["--job-seconds", "0"]  # jobs finish as soon as rendered
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, preexec_fn=pin_to_first_core
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise SystemExit("the sandbox did not start")
    return process, line.split()[3]


def request(conn: http.client.HTTPConnection, method: str, path: str, body: object | None = None) -> object:
    headers = dict(AUTH)
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status not in (200, 202):
        raise SystemExit(f"{method} {path} answered {response.status}: {data[:200]!r}")
    return json.loads(data)


def measure(conn: http.client.HTTPConnection, name: str, path: str, seconds: float) -> None:
    count = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        request(conn, "GET", path)
        count += 1
    rate = count / elapsed
    print(
        f"  {name:<24s}: {rate:7.0f} req/s  target >= {RPS_TARGET:.0f}/s  ratio {rate / RPS_TARGET:4.2f}  "
        f"{'OK' if rate >= RPS_TARGET else 'UNDER'}"
    )


def bench_openrouter_requests(seconds: float) -> None:
    """Poll and listing rates of the OpenRouter dialect (no list endpoint: completion is seen by polling)."""
    process, base_url = start_server("openrouter")
    try:
        url = urlsplit(base_url)
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port)
        prefix = url.path
        body = {"model": "google/veo-3.1", "prompt": "bench", "duration": 4, "size": "1280x720"}
        ids = []
        for _ in range(20):
            created = request(conn, "POST", f"{prefix}/videos", body)
            assert isinstance(created, dict)
            ids.append(created["id"])
        deadline = time.monotonic() + 120
        for job_id in ids:  # let every render finish so only the API is measured
            while True:
                job = request(conn, "GET", f"{prefix}/videos/{job_id}")
                assert isinstance(job, dict)
                if job["status"] == "completed":
                    break
                if time.monotonic() > deadline:
                    raise SystemExit("renders did not finish")
                time.sleep(0.1)
        print("OpenRouter dialect (same pinning; the shipped openrouter profile, 18 models)")
        measure(conn, "poll (completed job)", f"{prefix}/videos/{ids[7]}", seconds)
        measure(conn, "models listing", f"{prefix}/videos/models", seconds)
        conn.close()
    finally:
        process.send_signal(2)
        process.wait(timeout=30)


def bench_requests(seconds: float) -> None:
    process, base_url = start_server()
    try:
        url = urlsplit(base_url)
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port)
        prefix = url.path
        ids = []
        for n in range(20):
            created = request(conn, "POST", f"{prefix}/videos", {"prompt": f"bench {n}", "size": "1280x720"})
            assert isinstance(created, dict)
            ids.append(created["id"])
        deadline = time.monotonic() + 120
        while True:  # let every render finish so only the API is measured
            listed = request(conn, "GET", f"{prefix}/videos?limit=20")
            assert isinstance(listed, dict)
            if all(video["status"] == "completed" for video in listed["data"]):
                break
            if time.monotonic() > deadline:
                raise SystemExit("renders did not finish")
            time.sleep(0.1)
        print("Requests per second (standalone server pinned to 1 core; http.client keep-alive loop on the other core)")
        for name, path in (("retrieve", f"{prefix}/videos/{ids[7]}"), ("list (20 videos)", f"{prefix}/videos")):
            measure(conn, name, path, seconds)
        conn.close()
    finally:
        process.send_signal(2)
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="render runs per case (median reported)")
    parser.add_argument("--rps-seconds", type=float, default=3.0, help="seconds per request-rate measurement")
    parser.add_argument("--dialect", choices=("openai", "openrouter", "both"), default="both")
    parser.add_argument("--no-renders", action="store_true", help="skip the render CPU measurements")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not args.no_renders:
        bench_renders(args.runs)
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {1})
    if args.dialect in ("openai", "both"):
        bench_requests(args.rps_seconds)
    if args.dialect in ("openrouter", "both"):
        bench_openrouter_requests(args.rps_seconds)


if __name__ == "__main__":
    main()
