"""Atomic, size-checked, exactly-once downloads into real files."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import anyio
import pytest

from sora_mcp.errors import SoraMcpError
from sora_mcp.jobs import Body, DownloadError, DownloadResult, IncompleteDownload, download_once, fetch_from
from sora_mcp.jobs.downloads import contained, remove_leftover_parts

pytestmark = pytest.mark.anyio

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB, not all one byte
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def chunks_of(
    data: bytes, size: int = 65536, *, stop_at: int | None = None, pause: float = 0.0
) -> Callable[[], AsyncIterator[bytes]]:
    async def gen() -> AsyncIterator[bytes]:
        end = len(data) if stop_at is None else stop_at
        for start in range(0, end, size):
            if pause:
                await anyio.sleep(pause)
            yield data[start : min(start + size, end)]

    return gen


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


async def test_downloads_to_the_final_name_with_size_and_hash(tmp_path: Path) -> None:
    dest = tmp_path / "out" / "video_1.mp4"
    result = await download_once(dest, fetch_from(chunks_of(PAYLOAD), expected_size=len(PAYLOAD)))
    assert result == DownloadResult(dest, len(PAYLOAD), SHA, reused=False)
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(dest.parent) == ["video_1.mp4"]


async def test_the_final_name_never_holds_a_partial_file(tmp_path: Path) -> None:
    dest = tmp_path / "video_1.mp4"
    halfway = anyio.Event()
    resume = anyio.Event()

    async def gen() -> AsyncIterator[bytes]:
        yield PAYLOAD[:1000]
        halfway.set()
        await resume.wait()
        yield PAYLOAD[1000:]

    async with anyio.create_task_group() as tg:
        tg.start_soon(download_once, dest, fetch_from(gen, len(PAYLOAD)))
        await halfway.wait()
        await anyio.wait_all_tasks_blocked()
        assert not dest.exists()
        part, lock = leftovers(tmp_path)
        assert part.startswith(".video_1.mp4.") and part.endswith(".part")
        assert lock == "video_1.mp4.lock"  # held by this download; removed when it ends
        resume.set()
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(tmp_path) == ["video_1.mp4"]


async def test_a_short_body_is_incomplete_and_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "video_1.mp4"
    with pytest.raises(IncompleteDownload) as caught:
        await download_once(dest, fetch_from(chunks_of(PAYLOAD, stop_at=600_000), expected_size=len(PAYLOAD)))
    assert (caught.value.expected, caught.value.received) == (len(PAYLOAD), 600_000)
    assert "nothing was saved" in str(caught.value)
    assert isinstance(caught.value, SoraMcpError)
    assert (caught.value.stage, caught.value.code) == ("storage", "incomplete_download")
    assert caught.value.problem().message == str(caught.value)
    assert leftovers(tmp_path) == []


async def test_a_dropped_connection_leaves_nothing_and_a_retry_succeeds(tmp_path: Path) -> None:
    dest = tmp_path / "video_1.mp4"

    async def dropped() -> AsyncIterator[bytes]:
        yield PAYLOAD[:5000]
        raise ConnectionResetError("peer closed connection")

    with pytest.raises(ConnectionResetError):
        await download_once(dest, fetch_from(dropped))
    assert leftovers(tmp_path) == []
    result = await download_once(dest, fetch_from(chunks_of(PAYLOAD)))
    assert (result.reused, result.sha256) == (False, SHA)


async def test_a_cancelled_download_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "video_1.mp4"
    with anyio.move_on_after(0.05):
        await download_once(dest, fetch_from(chunks_of(PAYLOAD, 1000, pause=0.01)))
    assert leftovers(tmp_path) == []


async def test_long_or_empty_bodies_and_disagreeing_sizes_are_refused(tmp_path: Path) -> None:
    dest = tmp_path / "thumb.webp"
    with pytest.raises(DownloadError, match="more than the 10 bytes"):
        await download_once(dest, fetch_from(chunks_of(b"x" * 11, 4), expected_size=10))
    with pytest.raises(DownloadError, match="empty body"):
        await download_once(dest, fetch_from(chunks_of(b"")))
    with pytest.raises(DownloadError, match="announced 11 bytes but 10"):
        await download_once(dest, fetch_from(chunks_of(b"x" * 11), expected_size=11), expected_size=10)
    assert leftovers(tmp_path) == []


async def test_the_size_announced_by_the_response_is_checked(tmp_path: Path) -> None:
    dest = tmp_path / "video_1.mp4"
    closed: list[bool] = []

    @asynccontextmanager
    async def response() -> AsyncIterator[Body]:
        try:
            yield Body(chunks_of(PAYLOAD, stop_at=100)(), expected_size=len(PAYLOAD))  # Content-Length says 1 MiB
        finally:
            closed.append(True)

    with pytest.raises(IncompleteDownload):
        await download_once(dest, response)
    assert closed == [True]
    assert leftovers(tmp_path) == []


async def test_racing_downloads_of_one_file_fetch_once(tmp_path: Path) -> None:
    dest = tmp_path / "video_1.mp4"
    fetches = 0

    def counted() -> AsyncIterator[bytes]:
        nonlocal fetches
        fetches += 1
        return chunks_of(PAYLOAD, pause=0.001)()

    results: list[DownloadResult] = []

    async def one() -> None:
        results.append(await download_once(dest, fetch_from(counted, len(PAYLOAD))))

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(one)
    assert fetches == 1
    assert sorted(r.reused for r in results) == [False] + [True] * 9
    assert {(r.path, r.size_bytes, r.sha256) for r in results} == {(dest, len(PAYLOAD), SHA)}
    assert leftovers(tmp_path) == ["video_1.mp4"]


async def test_an_existing_file_is_reused_unless_its_size_is_wrong(tmp_path: Path) -> None:
    dest = tmp_path / "video_1.mp4"
    dest.write_bytes(PAYLOAD)

    def never() -> AsyncIterator[bytes]:
        raise AssertionError("must not fetch")

    reused = await download_once(dest, fetch_from(never), expected_size=len(PAYLOAD))
    assert (reused.reused, reused.sha256) == (True, SHA)
    assert (await download_once(dest, fetch_from(never))).reused  # size unknown: what is there is whole

    dest.write_bytes(b"stale, from an older run")
    fresh = await download_once(dest, fetch_from(chunks_of(PAYLOAD)), expected_size=len(PAYLOAD))
    assert (fresh.reused, fresh.sha256) == (False, SHA)
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(tmp_path) == ["video_1.mp4"]


def _download_in_process(dest: str, start: Barrier, results: Queue[tuple[bool, str, int]]) -> None:
    async def main() -> DownloadResult:
        start.wait(30)
        return await download_once(Path(dest), fetch_from(chunks_of(PAYLOAD, 32768, pause=0.002), len(PAYLOAD)))

    result = anyio.run(main)
    results.put((result.reused, result.sha256, os.path.getsize(dest)))


def test_racing_processes_publish_one_complete_file(tmp_path: Path) -> None:
    dest = tmp_path / "video_1.mp4"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(3)
    results: Queue[tuple[bool, str, int]] = ctx.Queue()
    processes = [ctx.Process(target=_download_in_process, args=(str(dest), start, results)) for _ in range(3)]
    for p in processes:
        p.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for p in processes:
        p.join(30)
        assert p.exitcode == 0
    assert {(sha, size) for _, sha, size in outcomes} == {(SHA, len(PAYLOAD))}
    assert not all(reused for reused, _, _ in outcomes)  # someone published
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(tmp_path) == ["video_1.mp4"]


def _download_counting(dest: str, start: Barrier, results: Queue[tuple[bool, int]]) -> None:
    fetched = 0

    def counted() -> AsyncIterator[bytes]:
        nonlocal fetched
        fetched += 1
        return chunks_of(PAYLOAD, 32768, pause=0.005)()

    async def main() -> DownloadResult:
        start.wait(30)
        return await download_once(Path(dest), fetch_from(counted, len(PAYLOAD)))

    result = anyio.run(main)
    results.put((result.reused, fetched))


def test_racing_processes_fetch_once(tmp_path: Path) -> None:
    """The file lock makes the other processes wait and reuse the first file: one transfer in all."""
    dest = tmp_path / "video_1.mp4"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(3)
    results: Queue[tuple[bool, int]] = ctx.Queue()
    processes = [ctx.Process(target=_download_counting, args=(str(dest), start, results)) for _ in range(3)]
    for p in processes:
        p.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for p in processes:
        p.join(30)
        assert p.exitcode == 0
    assert sorted(outcomes) == [(False, 1), (True, 0), (True, 0)]
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(tmp_path) == ["video_1.mp4"]


async def test_remove_leftover_parts_spares_a_download_in_progress(tmp_path: Path) -> None:
    (tmp_path / ".video_old.mp4.k2j4h5g6.part").write_bytes(b"half of an old file")
    (tmp_path / ".video_old.webp.a1b2c3d4.part").write_bytes(b"another")
    (tmp_path / "video_stale.mp4.lock").write_bytes(b"")  # a crashed holder's lock: nobody holds it
    (tmp_path / "video_kept.mp4").write_bytes(b"a finished file")
    (tmp_path / ".hidden.part.txt").write_bytes(b"not ours")
    dest = tmp_path / "video_live.mp4"
    halfway = anyio.Event()
    resume = anyio.Event()

    async def gen() -> AsyncIterator[bytes]:
        yield PAYLOAD[:1000]
        halfway.set()
        await resume.wait()
        yield PAYLOAD[1000:]

    async with anyio.create_task_group() as tg:
        tg.start_soon(download_once, dest, fetch_from(gen, len(PAYLOAD)))
        await halfway.wait()
        await anyio.wait_all_tasks_blocked()
        removed = await anyio.to_thread.run_sync(remove_leftover_parts, tmp_path)
        during = leftovers(tmp_path)
        resume.set()

    assert removed == 2
    live = [name for name in during if name.startswith(".video_live.mp4.") and name.endswith(".part")]
    assert len(live) == 1  # the running download's part survived
    assert sorted(set(during) - set(live)) == [".hidden.part.txt", "video_kept.mp4", "video_live.mp4.lock"]
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(tmp_path) == [".hidden.part.txt", "video_kept.mp4", "video_live.mp4"]
    assert remove_leftover_parts(tmp_path / "missing") == 0


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../evil.mp4", "climbs out"),
        ("..", "climbs out"),
        ("a/b.mp4", "path separator"),
        ("a\\b.mp4", "path separator"),
        ("/abs/dir/pwn", "path separator"),
        ("vid\x00eo.mp4", "control characters"),
        ("", "empty"),
        ("x" * 300, "longer than 255 bytes"),
    ],
)
def test_contained_refuses_names_that_leave_the_folder(tmp_path: Path, name: str, why: str) -> None:
    with pytest.raises(DownloadError) as caught:
        contained(tmp_path, name)
    assert why in str(caught.value) and str(tmp_path) in str(caught.value)
    assert (caught.value.code, caught.value.stage) == ("unsafe_path", "storage")


def test_contained_refuses_a_symlink_out_and_accepts_plain_names(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "link.mp4").symlink_to(outside / "target.mp4")
    with pytest.raises(DownloadError, match="outside the folder"):
        contained(out, "link.mp4")
    assert contained(out, "video_1.thumbnail.webp") == out / "video_1.thumbnail.webp"


async def test_download_once_within_a_folder_refuses_other_places(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(DownloadError, match="not directly in"):
        await download_once(out / "sub" / ".." / ".." / "evil.mp4", fetch_from(chunks_of(PAYLOAD)), within=out)
    saved = await download_once(out / "video_1.mp4", fetch_from(chunks_of(PAYLOAD)), within=out)
    assert saved.path == out / "video_1.mp4"
    assert leftovers(tmp_path) == ["out"]


_DISK_SCRIPT = """
import anyio, json, sys
from pathlib import Path
from sora_mcp.jobs.downloads import DownloadError, download_once, fetch_from

async def chunks():
    for _ in range(64):
        yield bytes(range(256)) * 256

async def main():
    out = Path(sys.argv[1]) / "out"
    try:
        await download_once(out / "video_1.mp4", fetch_from(chunks))
    except DownloadError as exc:
        left = sorted(p.name for p in out.iterdir())
        return {"message": str(exc), "code": exc.code, "reason": exc.reason, "left": left}
    return {"message": None}

print(json.dumps(anyio.run(main)))
"""


def _in_small_filesystem(tmp_path: Path, options: str, prepare: str = "") -> dict[str, object]:
    """Run a download in a private mount namespace on a tiny tmpfs (a real full or read-only disk)."""
    import json
    import shutil
    import subprocess
    import sys

    if shutil.which("unshare") is None:
        pytest.skip("needs unshare")
    mount = tmp_path / "mnt"
    mount.mkdir()
    script = tmp_path / "disk.py"
    script.write_text(_DISK_SCRIPT)
    shell = f"mount -t tmpfs -o {options} tmpfs {mount} && {prepare}{sys.executable} {script} {mount}"
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", shell],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent.parent,
        check=False,
    )
    if done.returncode != 0 and "mount" in done.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_full_disk_is_a_download_error_naming_the_folder(tmp_path: Path) -> None:
    outcome = _in_small_filesystem(tmp_path, "size=256k")
    mount = tmp_path / "mnt"
    assert outcome == {
        "message": f"No space left on device in {mount / 'out'}",
        "code": "disk_error",
        "reason": "ENOSPC",
        "left": [],
    }


def test_a_read_only_disk_is_a_download_error_naming_the_folder(tmp_path: Path) -> None:
    mount = tmp_path / "mnt"
    outcome = _in_small_filesystem(
        tmp_path, "size=256k", prepare=f"mkdir {mount}/out && mount -o remount,ro {mount} && "
    )
    assert outcome == {
        "message": f"Read-only file system in {mount / 'out'}",
        "code": "disk_error",
        "reason": "EROFS",
        "left": [],
    }
