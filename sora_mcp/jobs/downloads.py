"""Downloads that are complete or absent, and happen once.

A video is paid for and its links expire, so a download must never leave a truncated MP4 that looks like
a result, and two agents asking for the same finished job must not both fetch it. Bytes go to a temporary
file in the destination's directory; the size is checked against what the server announced; the file is
fsynced and then published under its final name with one atomic call. Within a process a per-destination
lock makes racing callers wait and reuse the first result. Across processes each may fetch, but the
final name is claimed with `os.link` (fails if it exists), so readers only ever see one complete file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import anyio
import anyio.to_thread

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


class DownloadError(Exception):
    """A download that cannot be trusted; nothing was left at the destination."""


class IncompleteDownload(DownloadError):
    """The body ended before the size the server announced (a dropped connection, usually: retry)."""

    def __init__(self, dest: Path, expected: int, received: int) -> None:
        self.dest = dest
        self.expected = expected
        self.received = received
        super().__init__(f"download of {dest.name} stopped at {received} of {expected} bytes; nothing was saved")


@dataclass(frozen=True)
class Body:
    """A response body: its chunks and, when the server said so, its size.

    Give `expected_size` from Content-Length only when the response has no Content-Encoding (otherwise the
    header counts compressed bytes).
    """

    chunks: AsyncIterable[bytes]
    expected_size: int | None = None


Fetch = Callable[[], AbstractAsyncContextManager[Body]]
"""Opens the response (as a context manager, so it is closed on every path) and yields its `Body`."""


def fetch_from(chunks: Callable[[], AsyncIterable[bytes]], expected_size: int | None = None) -> Fetch:
    """A `Fetch` over a function returning chunks, for sources with nothing to close (the sandbox, tests)."""

    @asynccontextmanager
    async def fetch() -> AsyncIterator[Body]:
        yield Body(chunks(), expected_size)

    return fetch


@dataclass(frozen=True)
class DownloadResult:
    """Where the file is, how big, its SHA-256, and whether an existing file was reused (nothing fetched)."""

    path: Path
    size_bytes: int
    sha256: str
    reused: bool


_locks: weakref.WeakValueDictionary[str, anyio.Lock] = weakref.WeakValueDictionary()


def _lock_for(dest: Path) -> anyio.Lock:
    key = os.path.normcase(str(dest))
    lock = _locks.get(key)
    if lock is None:
        lock = _locks[key] = anyio.Lock()
    return lock


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in chunks (blocking; call from a thread in async code)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _existing(dest: Path, expected_size: int | None) -> DownloadResult | None:
    """The file already at `dest`, if it can stand for this download (any file there was published whole)."""
    try:
        size = dest.stat().st_size
    except FileNotFoundError:
        return None
    if size == 0 or (expected_size is not None and size != expected_size):
        return None
    return DownloadResult(dest, size, sha256_file(dest), reused=True)


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (POSIX); not possible on Windows, where the rename itself is what we get."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write(out: BinaryIO, digest: hashlib._Hash, chunks: Iterable[bytes]) -> None:
    for chunk in chunks:
        out.write(chunk)
        digest.update(chunk)


def _finish(out: BinaryIO) -> None:
    out.flush()
    os.fsync(out.fileno())
    out.close()


def _publish(tmp: Path, dest: Path, size: int, expected_size: int | None) -> DownloadResult | None:
    """Give `tmp` the name `dest`. Returns the other file when another process published a good one first."""
    try:
        os.link(tmp, dest)
    except FileExistsError:
        theirs = _existing(dest, expected_size if expected_size is not None else size)
        if theirs is not None:
            return theirs
        os.replace(tmp, dest)  # what is there is stale (another size): ours wins
    except OSError:  # no hard links on this filesystem: last complete writer wins, still atomically
        os.replace(tmp, dest)
    _fsync_dir(dest.parent)
    return None


async def download_once(dest: Path, fetch: Fetch, *, expected_size: int | None = None) -> DownloadResult:
    """Save a response body at `dest` exactly once, atomically.

    If `dest` already holds a file (of `expected_size`, when given) it is reused without fetching. Otherwise the
    body is written to a temporary file beside `dest`, checked against the size announced by `Body` (or
    `expected_size`), fsynced and renamed into place. A short body raises `IncompleteDownload`, a long or
    empty one `DownloadError`; either way, and on cancellation, no file is left behind.
    """
    dest = Path(dest).absolute()
    await anyio.to_thread.run_sync(lambda: dest.parent.mkdir(parents=True, exist_ok=True))
    async with _lock_for(dest):
        existing = await anyio.to_thread.run_sync(_existing, dest, expected_size)
        if existing is not None:
            logger.debug("reusing %s (%d bytes)", dest, existing.size_bytes)
            return existing
        return await _download(dest, fetch, expected_size)


async def _download(dest: Path, fetch: Fetch, expected_size: int | None) -> DownloadResult:
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        out = os.fdopen(fd, "wb")
        digest = hashlib.sha256()
        size = 0
        try:
            async with fetch() as body:
                expected = body.expected_size if body.expected_size is not None else expected_size
                if expected is not None and expected_size is not None and expected != expected_size:
                    raise DownloadError(
                        f"{dest.name}: the server announced {expected} bytes but {expected_size} were expected"
                    )
                batch: list[bytes] = []
                batched = 0
                async for chunk in body.chunks:
                    size += len(chunk)
                    if expected is not None and size > expected:
                        raise DownloadError(f"{dest.name}: the server sent more than the {expected} bytes it announced")
                    batch.append(chunk)
                    batched += len(chunk)
                    if batched >= _CHUNK:
                        await anyio.to_thread.run_sync(_write, out, digest, batch)
                        batch, batched = [], 0
                await anyio.to_thread.run_sync(_write, out, digest, batch)
            if expected is not None and size < expected:
                raise IncompleteDownload(dest, expected, size)
            if size == 0:
                raise DownloadError(f"{dest.name}: the server sent an empty body; nothing was saved")
            await anyio.to_thread.run_sync(_finish, out)
        finally:
            out.close()
        theirs = await anyio.to_thread.run_sync(_publish, tmp, dest, size, expected)
    finally:
        tmp.unlink(missing_ok=True)  # after a link, or on any failure: never leave the temporary file
    if theirs is not None:
        logger.debug("another process published %s first; using it", dest)
        return theirs
    logger.debug("downloaded %s (%d bytes)", dest, size)
    return DownloadResult(dest, size, digest.hexdigest(), reused=False)
