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

from sora_mcp.jobs import Body, DownloadError, DownloadResult, IncompleteDownload, download_once, fetch_from

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
        (part,) = leftovers(tmp_path)
        assert part.startswith(".video_1.mp4.") and part.endswith(".part")
        resume.set()
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(tmp_path) == ["video_1.mp4"]


async def test_a_short_body_is_incomplete_and_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "video_1.mp4"
    with pytest.raises(IncompleteDownload) as caught:
        await download_once(dest, fetch_from(chunks_of(PAYLOAD, stop_at=600_000), expected_size=len(PAYLOAD)))
    assert (caught.value.expected, caught.value.received) == (len(PAYLOAD), 600_000)
    assert "nothing was saved" in str(caught.value)
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
