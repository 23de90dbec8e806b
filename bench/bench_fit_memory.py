"""Peak memory of `fit_image` on hostile inputs: large files that are small on disk but huge in memory.

A 10000x10000 16-bit grey PNG is ~220 KB on disk and 200 MB decoded; a server that converts it naively at
full size needs 5x that. Each case runs in a fresh interpreter (one subprocess per case and concurrency),
which fits the same file on N threads at once (as N concurrent tool calls would) and reports its peak RSS
(VmHWM, or `ru_maxrss` where /proc is missing) and the growth over its baseline after imports.

    python bench/bench_fit_memory.py                          # current code, concurrency 1 and 4
    python bench/bench_fit_memory.py --before /tmp/old-code   # also a copy of an older `sora_mcp`, side by side
    python bench/bench_fit_memory.py --cases grey16 rgba -c 1 # a subset

`--before DIR` takes a folder that contains a `sora_mcp` package (e.g. `git archive` of an older commit).
The corpus is generated once into `--corpus` (default: a folder under the system temp dir) and reused.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
SIDE = 10_000


def _shapes(im: Image.Image, fill: Callable[[int], int | tuple[int, ...]]) -> Image.Image:
    """A few large shapes, so the file is not a single colour but still compresses to almost nothing."""
    draw = ImageDraw.Draw(im)
    for index in range(8):
        inset = index * im.width // 20
        draw.rectangle((inset, inset, im.width - inset, im.height // 2 + inset), fill=fill(index))
    return im


def grey16(path: Path) -> None:
    _shapes(Image.new("I;16", (SIDE, SIDE), 1000), lambda i: 4000 + 7000 * i).save(path)


def grey16_small(path: Path) -> None:
    _shapes(Image.new("I;16", (7000, 7000), 1000), lambda i: 4000 + 7000 * i).save(path)


def rgba(path: Path) -> None:
    _shapes(Image.new("RGBA", (SIDE, SIDE), (10, 20, 30, 255)), lambda i: (30 * i, 90, 200, 40 + 25 * i)).save(path)


def rgb(path: Path) -> None:
    _shapes(Image.new("RGB", (SIDE, SIDE), (10, 20, 30)), lambda i: (30 * i, 90, 200)).save(path)


def palette(path: Path) -> None:
    im = _shapes(Image.new("P", (SIDE, SIDE), 0), lambda i: 1 + i)
    im.putpalette([v for i in range(256) for v in (i, 255 - i, (i * 7) % 256)])
    im.save(path, transparency=0)


def cmyk_jpeg(path: Path) -> None:
    _shapes(Image.new("CMYK", (SIDE, SIDE), (0, 0, 0, 0)), lambda i: (30 * i, 90, 20, 10)).save(path, quality=80)


def cmyk_tiff(path: Path) -> None:
    im = _shapes(Image.new("CMYK", (SIDE, SIDE), (0, 0, 0, 0)), lambda i: (30 * i, 90, 20, 10))
    im.save(path, compression="tiff_deflate")


def progressive_jpeg(path: Path) -> None:
    im = _shapes(Image.new("RGB", (16_000, 12_000), (40, 60, 80)), lambda i: (30 * i, 120, 200))
    im.save(path, quality=85, progressive=True)


def rgba_64mp(path: Path) -> None:
    _shapes(Image.new("RGBA", (8000, 8000), (10, 20, 30, 255)), lambda i: (30 * i, 90, 200, 40 + 25 * i)).save(path)


def progressive_48mp(path: Path) -> None:
    _shapes(Image.new("RGB", (8000, 6000), (40, 60, 80)), lambda i: (30 * i, 120, 200)).save(
        path, quality=85, progressive=True
    )


def baseline_jpeg(path: Path) -> None:
    _shapes(Image.new("RGB", (16_000, 12_000), (40, 60, 80)), lambda i: (30 * i, 120, 200)).save(path, quality=85)


def webp(path: Path) -> None:
    _shapes(Image.new("RGB", (5000, 5000), (40, 60, 80)), lambda i: (30 * i, 120, 200)).save(path, quality=80)


@dataclass(frozen=True)
class Case:
    name: str
    file: str
    make: Callable[[Path], None]
    what: str


CASES = [
    Case("grey16", "grey16.png", grey16, "10000x10000 16-bit grey PNG"),
    Case("grey16-49mp", "grey16-7000.png", grey16_small, "7000x7000 16-bit grey PNG"),
    Case("rgba", "rgba.png", rgba, "10000x10000 RGBA PNG"),
    Case("rgb", "rgb.png", rgb, "10000x10000 RGB PNG"),
    Case("palette", "palette.png", palette, "10000x10000 palette PNG with transparency"),
    Case("cmyk-jpeg", "cmyk.jpg", cmyk_jpeg, "10000x10000 CMYK JPEG"),
    Case("cmyk-tiff", "cmyk.tif", cmyk_tiff, "10000x10000 CMYK TIFF (deflate)"),
    Case("progressive", "progressive.jpg", progressive_jpeg, "16000x12000 progressive JPEG"),
    Case("rgba-64mp", "rgba-8000.png", rgba_64mp, "8000x8000 RGBA PNG"),
    Case("prog-48mp", "progressive-8000.jpg", progressive_48mp, "8000x6000 progressive JPEG"),
    Case("jpeg-192mp", "baseline.jpg", baseline_jpeg, "16000x12000 baseline JPEG"),
    Case("webp-25mp", "rgb-5000.webp", webp, "5000x5000 WebP"),
]

_PROBE = textwrap.dedent(
    """
    import json, resource, sys, threading, time
    from pathlib import Path
    sys.path.insert(0, {code!r})
    from sora_mcp.imaging import FitRequest, ImageInputError
    from sora_mcp.imaging.fit import fit_image
    from sora_mcp.sizes import Size
    from PIL import Image
    Image.init()

    def status(key):
        try:
            for line in open("/proc/self/status"):
                if line.startswith(key):
                    return int(line.split()[1])
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    source, out, n = Path({path!r}), Path({out!r}), {concurrency}
    results = [None] * n

    def one(i):
        try:
            fit_image(source, FitRequest(Size(1280, 720)), out / str(i))
            results[i] = "ok"
        except ImageInputError as exc:
            results[i] = "refused: " + str(exc)

    baseline = status("VmRSS:")
    started = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    sys.stdout.write(json.dumps({{"baseline": baseline, "peak": status("VmHWM:"), "results": results,
                                 "seconds": seconds}}))
    """
)


@dataclass(frozen=True)
class Measure:
    peak_mb: float
    growth_mb: float
    seconds: float
    outcome: str


def measure(code: Path, path: Path, concurrency: int, work: Path) -> Measure:
    """Fit `path` on `concurrency` threads in a fresh interpreter that imports `sora_mcp` from `code`."""
    out = Path(tempfile.mkdtemp(prefix="out-", dir=work))
    script = _PROBE.format(code=str(code), path=str(path), out=str(out), concurrency=concurrency)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        return Measure(0.0, 0.0, 0.0, f"crashed (exit {done.returncode}): {tail[:90]}")
    data = json.loads(done.stdout)
    results: list[str] = data["results"]
    refused = [r for r in results if r != "ok"]
    outcome = "ok" if not refused else f"{len(refused)}/{len(results)} {refused[0][:110]}"
    return Measure(data["peak"] / 1024, (data["peak"] - data["baseline"]) / 1024, data["seconds"], outcome)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, help="folder holding an older `sora_mcp` package to compare with")
    parser.add_argument("--corpus", type=Path, default=Path(tempfile.gettempdir()) / "sora-mcp-bench-fit-memory")
    parser.add_argument("--cases", nargs="+", choices=[c.name for c in CASES], default=[c.name for c in CASES])
    parser.add_argument("-c", "--concurrency", nargs="+", type=int, default=[1, 4])
    args = parser.parse_args(argv)
    args.corpus.mkdir(parents=True, exist_ok=True)
    cases = [c for c in CASES if c.name in args.cases]
    for case in cases:
        path = args.corpus / case.file
        if not path.exists():
            print(f"generating {case.what} ...", flush=True)
            case.make(path)
    versions = [("before", args.before), ("after", REPO)] if args.before else [("now", REPO)]
    with tempfile.TemporaryDirectory(prefix="bench-fit-memory-") as tmp:
        work = Path(tmp)
        print(
            f"{'case':<12} {'file':>8} {'n':>2}  "
            + "  ".join(f"{label + ' peak/growth MB, s':<30}" for label, _ in versions)
        )
        for case in cases:
            path = args.corpus / case.file
            size = f"{path.stat().st_size / 1024:.0f} KB"
            for concurrency in args.concurrency:
                cells, notes = [], []
                for label, code in versions:
                    m = measure(code, path, concurrency, work)
                    cells.append(f"{m.peak_mb:6.0f} / {m.growth_mb:6.0f}, {m.seconds:5.1f} s      ")
                    notes.append(f"      {label}: {m.outcome}")
                print(f"{case.name:<12} {size:>8} {concurrency:>2}  " + "  ".join(cells), flush=True)
                for note in notes:
                    print(note, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
