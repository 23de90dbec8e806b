"""Downloads that are complete or absent, and happen once.

A video is paid for and its links expire, so a download must never leave a truncated MP4 that looks like
a result, and two agents asking for the same finished job must not both fetch it. Bytes go to a temporary
file in the destination's directory; the size is checked against what the server announced; the file is
fsynced and then published under its final name with one atomic call. Within a process a per-destination
lock makes racing callers wait and reuse the first result. Across processes a file lock (`flock` on
`<dest>.lock`, removed when released) makes the second process wait and reuse the first one's file, so a
file is fetched once; where there is no `flock` (Windows) each may fetch, but the final name is claimed with
`os.link` (fails if it exists), so readers only ever see one complete file.

Provider data never chooses a path: `contained(out_dir, name)` refuses any name that is not a plain file name
inside `out_dir`. Disk failures (full, read-only, no permission) become a `DownloadError` naming the reason
and the folder. `remove_leftover_parts(directory)` clears `.part` files a killed process left behind.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import tempfile
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

import anyio
import anyio.to_thread

from sora_mcp.errors import ErrorStage, SoraMcpError

try:
    import fcntl
except ImportError:  # Windows: no flock; the os.link publication still keeps files whole
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
_R = TypeVar("_R")


class DownloadError(SoraMcpError):
    """A download that cannot be trusted or stored; nothing was left at the destination.

    `code` is `download_failed` (a bad body), `incomplete_download`, `unsafe_path` or `disk_error`; for a disk
    error `reason` is the errno name (`ENOSPC`, `EROFS`, `EACCES`...) and `directory` the folder concerned.
    """

    stage: ErrorStage = "storage"

    def __init__(
        self, message: str, *, code: str = "download_failed", reason: str | None = None, directory: Path | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.directory = directory


class IncompleteDownload(DownloadError):
    """The body ended before the size the server announced (a dropped connection, usually: retry)."""

    def __init__(self, dest: Path, expected: int, received: int) -> None:
        self.dest = dest
        self.expected = expected
        self.received = received
        super().__init__(
            f"download of {dest.name} stopped at {received} of {expected} bytes; nothing was saved",
            code="incomplete_download",
        )


_DISK_ERRNOS = {
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM", "EFBIG", "EIO", "ENAMETOOLONG", "EMFILE", "ENFILE")
    if hasattr(errno, name)
}


def disk_error(exc: OSError, directory: Path) -> DownloadError:
    """`No space left on device in /x/out`: an `OSError` from storing a file, as a `DownloadError`."""
    number = exc.errno
    reason = os.strerror(number) if number is not None else (exc.strerror or type(exc).__name__)
    name = errno.errorcode.get(number, None) if number is not None else None
    return DownloadError(f"{reason} in {directory}", code="disk_error", reason=name, directory=directory)


def contained(out_dir: Path, name: str) -> Path:
    """`out_dir / name` when `name` is a plain file name that stays inside `out_dir`; else `DownloadError`.

    Refused: empty names, `.`/`..`, path separators (either kind), NUL and other control characters, drive or
    absolute forms, names over 255 bytes, and anything that (following symlinks) would land outside `out_dir`.
    """
    problem: str | None = None
    if not isinstance(name, str) or not name:
        problem = "it is empty"
    elif name in (".", "..") or name.startswith(".."):
        problem = "it climbs out of the folder"
    elif "/" in name or "\\" in name or os.sep in name or (os.altsep and os.altsep in name):
        problem = "it contains a path separator"
    elif any(ord(c) < 32 or ord(c) == 127 for c in name):
        problem = "it contains control characters"
    elif ":" in name and os.name == "nt":
        problem = "it contains ':'"
    elif len(name.encode("utf-8", "surrogatepass")) > 255:
        problem = "it is longer than 255 bytes"
    if problem is None:
        base = Path(out_dir).absolute()
        candidate = base / name
        if os.path.realpath(candidate.parent) != os.path.realpath(base) or candidate.is_symlink():
            problem = "it would land outside the folder"
        else:
            return candidate
    raise DownloadError(
        f"Refusing to save {str(name)[:60]!a} in {out_dir}: {problem}.",
        code="unsafe_path",
        directory=Path(out_dir),
    )


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


async def _on_disk(directory: Path, func: Callable[..., _R], *args: object) -> _R:
    """Run a blocking storage step in a thread; a disk failure becomes a `DownloadError` naming the folder."""
    try:
        return await anyio.to_thread.run_sync(func, *args)
    except DownloadError:
        raise
    except OSError as exc:
        if exc.errno in _DISK_ERRNOS or isinstance(exc, PermissionError):
            raise disk_error(exc, directory) from exc
        raise


def _lock_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".lock")


def _try_flock(path: Path) -> int | None:
    """An fd holding an exclusive flock on `path` (created if needed), or None if another process holds it.

    The lock file is unlinked by its holder on release, so after locking we check that the file we locked is
    still the one at `path` (otherwise a second holder could lock a fresh file of the same name).
    """
    assert fcntl is not None
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    try:
        same = os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        same = False
    if not same:
        os.close(fd)
        return None
    return fd


def _release_flock(path: Path, fd: int) -> None:
    try:
        path.unlink(missing_ok=True)
    finally:
        os.close(fd)  # closing releases the flock


@asynccontextmanager
async def _process_lock(dest: Path) -> AsyncIterator[None]:
    """Exclusive across processes for `dest` (no-op without flock).

    Each try is a non-blocking `flock` made on the event loop itself (never in a worker thread, where a
    cancellation could strand an acquired lock); between tries it sleeps, so waiting stays cancellable.
    """
    if fcntl is None:
        yield
        return
    path = _lock_path(dest)
    pause = 0.005
    while True:
        try:
            fd = _try_flock(path)
        except OSError as exc:
            if exc.errno in _DISK_ERRNOS or isinstance(exc, PermissionError):
                raise disk_error(exc, dest.parent) from exc
            raise
        if fd is not None:
            break
        await anyio.sleep(pause)
        pause = min(0.1, pause * 2)
    try:
        yield
    finally:
        _release_flock(path, fd)


_PART = re.compile(r"\.(?P<name>.+)\.[^.]+\.part")


def remove_leftover_parts(directory: Path) -> int:
    """Delete `.part` files no download is writing (left by a killed process) in `directory`; how many.

    A part file belongs to a running download exactly when that download holds `<dest>.lock`, so a part is
    removed only after taking that lock; unheld `.lock` files are removed too. A missing folder is 0.
    Blocking: call from a thread in async code (or at start-up).
    """
    removed = 0
    try:
        entries = list(Path(directory).iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for entry in entries:
        match = _PART.fullmatch(entry.name)
        if match is None or not entry.is_file():
            continue
        lock = entry.with_name(match["name"] + ".lock")
        fd = _try_flock(lock) if fcntl is not None else None
        if fcntl is not None and fd is None:
            continue  # a download in progress owns it
        try:
            entry.unlink(missing_ok=True)
            removed += 1
        finally:
            if fd is not None:
                _release_flock(lock, fd)
    if fcntl is not None:
        for entry in Path(directory).glob("*.lock"):
            fd = _try_flock(entry)
            if fd is not None:
                _release_flock(entry, fd)
    if removed:
        logger.info("removed %d leftover partial download(s) in %s", removed, directory)
    return removed


async def download_once(
    dest: Path, fetch: Fetch, *, expected_size: int | None = None, within: Path | None = None
) -> DownloadResult:
    """Save a response body at `dest` exactly once, atomically.

    If `dest` already holds a file (of `expected_size`, when given) it is reused without fetching. Otherwise the
    body is written to a temporary file beside `dest`, checked against the size announced by `Body` (or
    `expected_size`), fsynced and renamed into place. A short body raises `IncompleteDownload`, a long or
    empty one `DownloadError`; either way, and on cancellation, no file is left behind. Concurrent calls for
    one `dest` share one transfer, in one process (a lock) and across processes (`flock` on `<dest>.lock`).
    With `within`, `dest` must be a plain file name directly inside that folder (`contained`). A disk failure
    is a `DownloadError` with `code="disk_error"`: "No space left on device in /x/out".
    """
    if within is not None:
        asked = Path(dest)
        dest = contained(within, asked.name)
        if os.path.realpath(asked.absolute().parent) != os.path.realpath(Path(within).absolute()):
            raise DownloadError(
                f"Refusing to save {str(asked)[:80]!a}: it is not directly in {within}.",
                code="unsafe_path",
                directory=Path(within),
            )
    dest = Path(dest).absolute()
    await _on_disk(dest.parent, lambda: dest.parent.mkdir(parents=True, exist_ok=True))
    async with _lock_for(dest), _process_lock(dest):
        existing = await _on_disk(dest.parent, _existing, dest, expected_size)
        if existing is not None:
            logger.debug("reusing %s (%d bytes)", dest, existing.size_bytes)
            return existing
        return await _download(dest, fetch, expected_size)


def _mkstemp(dest: Path) -> tuple[int, str]:
    return tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")


async def _download(dest: Path, fetch: Fetch, expected_size: int | None) -> DownloadResult:
    folder = dest.parent
    fd, tmp_name = await _on_disk(folder, _mkstemp, dest)
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
                        await _on_disk(folder, _write, out, digest, batch)
                        batch, batched = [], 0
                await _on_disk(folder, _write, out, digest, batch)
            if expected is not None and size < expected:
                raise IncompleteDownload(dest, expected, size)
            if size == 0:
                raise DownloadError(f"{dest.name}: the server sent an empty body; nothing was saved")
            await _on_disk(folder, _finish, out)
        finally:
            with contextlib.suppress(OSError):  # already reported (a failed flush on a full disk)
                out.close()
        theirs = await _on_disk(folder, _publish, tmp, dest, size, expected)
    finally:
        tmp.unlink(missing_ok=True)  # after a link, or on any failure: never leave the temporary file
    if theirs is not None:
        logger.debug("another process published %s first; using it", dest)
        return theirs
    logger.debug("downloaded %s (%d bytes)", dest, size)
    return DownloadResult(dest, size, digest.hexdigest(), reused=False)
