"""Benchmark: stitching 3 x 12 s 1280x720 segments (24 fps, H.264 + AAC) by stream copy vs re-encoding.

The segments are sandbox renders with identical codec parameters (what one provider model returns), so
`stitch(..., "auto")` copies packets; the baseline decodes and re-encodes the same segments (libx264
veryfast), measured side by side in one run. Target: copy <= 0.3 s and >= 10x faster than re-encoding.

    python bench/bench_stitch.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sora_mcp.longvideo.stitch import stitch
from sora_mcp.sandbox.render import RenderSpec, Scene, render

TARGET_COPY_S = 0.3
TARGET_RATIO = 10.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        segments = [
            render(RenderSpec(1280, 720, 12, (Scene(0.0, f"shot {i}"),), audio=True, fps=24), folder, f"s{i}").video
            for i in range(3)
        ]
        copies: list[float] = []
        encodes: list[float] = []
        for run in range(args.runs):
            for mode, times in (("copy", copies), ("encode", encodes)):
                start = time.perf_counter()
                result = stitch(segments, folder / f"{mode}-{run}.mp4", mode)  # type: ignore[arg-type]
                times.append(time.perf_counter() - start)
                assert result.method == mode and result.frames == 864
        copy, encode = statistics.median(copies), statistics.median(encodes)
    ratio = encode / copy
    sys.stdout.write(
        f"stitch 3 x 12 s 1280x720: stream copy {copy:.3f} s, re-encode {encode:.2f} s: {ratio:.0f}x faster "
        f"(target copy <= {TARGET_COPY_S} s: {'ok' if copy <= TARGET_COPY_S else 'MISSED'}; "
        f">= {TARGET_RATIO:.0f}x: {'ok' if ratio >= TARGET_RATIO else 'MISSED'})\n"
    )
    return 0 if copy <= TARGET_COPY_S and ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
