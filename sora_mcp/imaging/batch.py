"""Fit many files in parallel: one process per core (decoding holds the GIL only briefly, but LANCZOS and
the encoders are CPU-bound), one failure never stops the rest, and results come back as they finish."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from sora_mcp.imaging.errors import ImageInputError
from sora_mcp.imaging.fit import fit_image
from sora_mcp.imaging.inputs import check_image_file
from sora_mcp.imaging.request import FitOutcome, FitRequest

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif"})


@dataclass(frozen=True)
class BatchItem:
    """One input's result: an outcome or an error message, never both."""

    source: Path
    outcome: FitOutcome | None = None
    error: str | None = None


def expand_paths(paths: Iterable[Path], recursive: bool = False) -> tuple[list[Path], list[BatchItem]]:
    """Files as given, folders expanded to their image files (sorted); missing paths become failed items."""
    files: list[Path] = []
    missing: list[BatchItem] = []
    for path in paths:
        if path.is_dir():
            found = path.rglob("*") if recursive else path.iterdir()
            files.extend(sorted(p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.exists():
            files.append(path)
        else:
            missing.append(BatchItem(path, error="no such file or directory"))
    return list(dict.fromkeys(files)), missing


def fit_one(source: Path, request: FitRequest, out_dir: Path) -> BatchItem:
    """Fit one file, turning every failure into a message (a batch reports, it does not stop)."""
    try:
        return BatchItem(source, outcome=fit_image(check_image_file(source), request, out_dir))
    except (ImageInputError, OSError) as exc:
        return BatchItem(source, error=str(exc))
    except Exception as exc:  # a decoder bug on one odd file must not lose the other results
        return BatchItem(source, error=f"unexpected {type(exc).__name__}: {exc}")


def run_batch(
    files: Sequence[Path],
    request: FitRequest,
    out_dir: Path,
    jobs: int,
    on_done: Callable[[BatchItem], None] = lambda item: None,
) -> list[BatchItem]:
    """Fit `files` with up to `jobs` worker processes; `on_done` sees each item as it finishes."""
    items: dict[Path, BatchItem] = {}
    workers = max(1, min(jobs, len(files)))
    if workers == 1:
        for source in files:
            item = fit_one(source, request, out_dir)
            items[source] = item
            on_done(item)
    else:
        # spawn, not fork: the server process may hold threads and locks that a fork would copy mid-use.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(fit_one, source, request, out_dir): source for source in files}
            for future in as_completed(futures):
                item = future.result()
                items[futures[future]] = item
                on_done(item)
    return [items[source] for source in files]


class Progress:
    """A one-line progress bar on a terminal; one line per file when stderr is a log or a pipe."""

    def __init__(self, total: int, stream: TextIO, width: int = 28) -> None:
        self.total = total
        self.stream = stream
        self.width = width
        self.done = 0
        self.failed = 0
        self.started = time.monotonic()
        self.tty = stream.isatty()

    def update(self, item: BatchItem) -> None:
        self.done += 1
        self.failed += item.error is not None
        if self.tty:
            filled = self.width * self.done // max(1, self.total)
            bar = "#" * filled + "-" * (self.width - filled)
            failed = f", {self.failed} failed" if self.failed else ""
            elapsed = time.monotonic() - self.started
            line = f"\r[{bar}] {self.done}/{self.total}{failed} {elapsed:5.1f}s {item.source.name[:30]:<30}"
            self.stream.write(line)
            if self.done == self.total:
                self.stream.write("\n")
        else:
            status = "ok" if item.error is None else f"FAILED: {item.error}"
            self.stream.write(f"[{self.done}/{self.total}] {item.source} {status}\n")
        self.stream.flush()


def summary(items: Sequence[BatchItem], request: FitRequest, out_dir: Path, seconds: float) -> str:
    """The closing report: counts by kind, the failures with their reasons, and where the files are."""
    outcomes = [i.outcome for i in items if i.outcome is not None]
    failures = [i for i in items if i.error is not None]
    reused = sum(o.reused for o in outcomes)
    passed = sum(o.passed_through and not o.reused for o in outcomes)
    fitted = len(outcomes) - reused - passed
    lines = [
        f"Fitted {len(outcomes)} of {len(items)} images to {request.target} ({request.mode}) in {seconds:.1f} s: "
        f"{fitted} new, {reused} reused, {passed} passed through unchanged; {len(failures)} failed.",
        f"Output directory: {out_dir}",
    ]
    lines += [f"  failed: {item.source}: {item.error}" for item in failures]
    return "\n".join(lines)
