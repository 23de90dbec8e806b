"""Fuzz every tool in both protocol eras for longer than the test suite does, and print what happened.

The same fuzzer as tests/test_fuzz.py (arguments from each tool's published input schema, plus garbage),
the same sandbox-backed server and in-memory client, but N calls spread evenly over tools and eras, and
nothing asserted: each call is counted in one column (see `tests.test_fuzz.Kind`):

  ok, error     a result, or a readable error result (message, then the ErrorInfo JSON block)
  internal      an error result of stage "internal": an unexpected exception the tool layer caught
  unshaped      an error result without the ErrorInfo JSON block, or with structuredContent
  bare          the SDK's own "Error executing tool ..." text
  unreadable    an error result without text
  unencodable   a result that cannot be written as JSON, as stdio would (lone surrogates)
  protocol      the client raised MCPError; client: it raised anything else
  hang          no answer within 60 s
  death         list_models stopped answering afterwards (the session is rebuilt and the run goes on)

Exit status 1 when any call landed outside ok/error.

Run: python bench/fuzz_tools.py [--calls 5000] [--eras auto,legacy] [--tools create_video,...] [--seed 1]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, Phase, given, seed, settings

from tests.test_fuzz import ERAS, TOOLS, Case, FuzzSession, Outcome, arguments_for, describe

COLUMNS = (
    "ok",
    "error",
    "internal",
    "unshaped",
    "bare",
    "unreadable",
    "unencodable",
    "protocol",
    "client",
    "death",
    "hang",
)


def fuzz_tool(session: FuzzSession, tool: str, calls: int, run_seed: int) -> tuple[Counter[str], list[str], int]:
    """Call `tool` about `calls` times; return the outcome counts, examples of failures and the calls made."""
    counts: Counter[str] = Counter()
    samples: list[str] = []

    def record(arguments: dict[str, Any], outcome: Outcome) -> None:
        counts[outcome.kind] += 1
        if outcome.failed and len(samples) < 5:
            samples.append(f"{outcome.kind}: {describe(arguments, 160)} -> {outcome.text[:160]!r}")

    @seed(run_seed)
    @settings(
        max_examples=calls,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=arguments_for(session, tool))
    def run(case: Case) -> None:
        outcome = session.call(tool, case.arguments)
        if not session.alive():
            outcome = Outcome("death", f"list_models stopped answering after: {outcome.kind} {outcome.text[:200]}")
        record(case.arguments, outcome)
        if outcome.kind == "death":
            session.restart()

    run()
    return counts, samples, sum(counts.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=5000, help="total tool calls over all tools and eras")
    parser.add_argument("--eras", default=",".join(ERAS), help="comma-separated: auto (2026-07-28), legacy")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated tool names")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    eras = [e for e in args.eras.split(",") if e]
    tools = [t for t in args.tools.split(",") if t]
    per_tool = max(1, args.calls // (len(eras) * len(tools)))
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)  # request logs would drown the table; tracebacks (ERROR) still show

    totals: Counter[str] = Counter()
    samples: dict[tuple[str, str], list[str]] = defaultdict(list)
    header = f"{'tool':<20} {'era':<7} {'calls':>6} " + " ".join(f"{c:>10}" for c in COLUMNS) + f" {'s':>6}"
    print(f"{per_tool} calls per tool and era; a list_models call after each checks the server is alive\n")
    print(header)
    print("-" * len(header))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sora-fuzz-") as tmp:
        for era in eras:
            with FuzzSession(Path(tmp) / era, era) as session:
                for tool in tools:
                    if tool not in session.schemas:
                        print(f"{tool:<20} {era:<7} not listed")
                        continue
                    begun = time.perf_counter()
                    counts, examples, made = fuzz_tool(session, tool, per_tool, args.seed + eras.index(era))
                    totals.update(counts)
                    totals["calls"] += made
                    samples[(tool, era)] = examples
                    row = " ".join(f"{counts[c]:>10}" for c in COLUMNS)
                    print(f"{tool:<20} {era:<7} {made:>6} {row} {time.perf_counter() - begun:>6.1f}", flush=True)
    print("-" * len(header))
    row = " ".join(f"{totals[c]:>10}" for c in COLUMNS)
    print(f"{'total':<20} {'':<7} {totals['calls']:>6} {row} {time.perf_counter() - started:>6.1f}")
    bad = sum(totals[c] for c in COLUMNS[2:])
    for (tool, era), examples in samples.items():
        if examples:
            print(f"\n{tool} ({era}):")
            for line in examples:
                print(f"  {line}")
    print(f"\ncalls {totals['calls']}, " + ", ".join(f"{c} {totals[c]}" for c in COLUMNS[2:]))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
