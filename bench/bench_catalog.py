"""Benchmark: building a catalog from a 60-model listing and generating create_video's schema from it.

This is what a listing refresh costs (OpenRouter's `GET /api/v1/videos/models`, parsed by
`sora_mcp.listing.catalog_from_listing`, then `create_video_schema`). The listing is the generated one the
tests use (tests/test_listing.py), which varies every axis the builder reads. Target: < 50 ms per build +
schema, median. Also reported: the shipped 2026-10-09 snapshot, and JSON parsing of the listing text.

    python bench/bench_catalog.py [--runs 50] [--models 60]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sora_mcp.catalog import load_builtin
from sora_mcp.listing import catalog_from_listing
from sora_mcp.request_schema import create_video_schema
from tests.test_listing import generated_listing

TARGET_MS = 50.0


def _median_ms(fn: object, runs: int) -> float:
    assert callable(fn)
    fn()  # warm up imports and caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--models", type=int, default=60)
    args = parser.parse_args()

    listing = generated_listing(args.models)
    text = json.dumps(listing)
    now = dt.datetime.now(dt.UTC)

    def build() -> None:
        catalog = catalog_from_listing(json.loads(text), fetched_at=now, source="bench listing")
        create_video_schema(catalog)

    def build_only() -> None:
        catalog_from_listing(json.loads(text), fetched_at=now, source="bench listing")

    catalog = catalog_from_listing(listing, fetched_at=now, source="bench listing")
    schema = create_video_schema(catalog)
    total = _median_ms(build, args.runs)
    parse_and_build = _median_ms(build_only, args.runs)
    schema_only = _median_ms(lambda: create_video_schema(catalog), args.runs)
    shipped = _median_ms(lambda: create_video_schema(load_builtin("openrouter")), args.runs)
    branches = len(schema["properties"]["video"].get("anyOf", []))
    print(
        f"listing of {args.models} models ({len(text) / 1024:.0f} KiB JSON): {len(catalog.models)} creatable, "
        f"{len(catalog.listed_only)} listed only; video schema {len(json.dumps(schema)) / 1024:.0f} KiB, "
        f"{branches} anyOf branches"
    )
    print(f"parse + build catalog: {parse_and_build:.1f} ms (median of {args.runs})")
    print(f"create_video_schema:   {schema_only:.1f} ms")
    verdict = "OK" if total < TARGET_MS else "OVER TARGET"
    print(f"build + schema:        {total:.1f} ms  (target < {TARGET_MS:.0f} ms: {verdict})")
    print(f"shipped openrouter snapshot, load + schema: {shipped:.1f} ms")
    return 0 if total < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
