"""Install every interop client ahead of the tests, in parallel: `python -m tests.interop.provision`.

The tests provision what they need themselves (serially, on first use); CI runs this first, in the
background, so the installs overlap with the project's own. Safe to run concurrently with the tests: each
environment is built under a lock and reused once complete.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.interop import support


def main() -> int:
    started = time.monotonic()
    jobs = {name: (support.python_client, (name,)) for name in support.PYTHON_CLIENTS}
    with ThreadPoolExecutor(max_workers=len(jobs) + 2) as pool:
        futures = {name: pool.submit(fn, *args) for name, (fn, args) in jobs.items()}
        futures["node"] = pool.submit(support.node_modules)
        futures["conformance"] = pool.submit(support.node_modules, support.CONFORMANCE_DIR)
        failed = 0
        for name, future in futures.items():
            try:
                where: Path = future.result()
                sys.stderr.write(f"interop: {name} ready ({where})\n")
            except Exception as exc:
                failed += 1
                sys.stderr.write(f"interop: {name} FAILED: {exc}\n")
    sys.stderr.write(f"interop: provisioned in {time.monotonic() - started:.0f} s (cache {support.CACHE})\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
