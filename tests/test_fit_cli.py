"""`sora-mcp fit`: the batch command, inline and across worker processes, with its progress and summary."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
from PIL import Image

from sora_mcp.imaging.batch import BatchItem, Progress
from sora_mcp.imaging.command import register
from tests.test_fit_corpus import encode, oriented_jpeg, quadrants


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sora-mcp")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["fit", *argv])
    code: int = args.handler(args)
    return code


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(oriented_jpeg(6, 300, 200))
    (photos / "b.png").write_bytes(encode(quadrants(200, 300), "PNG"))
    (photos / "c.webp").write_bytes(encode(quadrants(1280, 720), "WEBP"))
    (photos / "notes.txt").write_text("not an image, and not picked up from a folder")
    return photos


def test_folder_is_fitted_inline_with_paths_on_stdout_and_summary_on_stderr(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = run([str(folder), "--size", "1280x720", "--mode", "pad", "--out", str(out), "--jobs", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    paths = [Path(line) for line in captured.out.splitlines()]
    assert [p.name.split("-")[0] for p in paths] == ["a", "b", "c"]  # input order
    for path in paths:
        assert path.parent == out.resolve()
        with Image.open(path) as im:
            assert im.size == (1280, 720)
    assert "[3/3]" in captured.err
    assert "Fitted 3 of 3 images to 1280x720 (pad)" in captured.err
    assert "2 new, 0 reused, 1 passed through unchanged; 0 failed" in captured.err
    assert run([str(folder), "--size", "1280x720", "--mode", "pad", "--out", str(out), "-j", "1"]) == 0
    assert "0 new, 3 reused" in capsys.readouterr().err


def test_parallel_workers_and_failures_are_reported_not_fatal(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    missing = tmp_path / "missing.jpg"
    argv = [str(folder), str(missing), "--size", "720x1280", "--out", str(tmp_path / "o"), "--jobs", "2"]
    argv += ["--format", "png", "--crop", "0,0,1,1"]
    code = run(argv)
    captured = capsys.readouterr()
    assert code == 1
    assert len(captured.out.splitlines()) == 3
    assert "Fitted 3 of 5 images to 720x1280 (cover)" in captured.err
    assert f"failed: {missing}: no such file or directory" in captured.err
    assert "broken.jpg" in captured.err and "damaged JPEG" in captured.err
    for line in captured.out.splitlines():
        with Image.open(line) as im:
            assert im.format == "PNG" and im.size == (720, 1280)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--size", "huge"], "'huge' is not a size of the form WIDTHxHEIGHT"),
        (["--size", "1280x720", "--crop", "0,0,1"], "--crop '0,0,1' must be four numbers"),
        (["--size", "1280x720", "--crop", "0.5,0,0.2,1"], "crop left=0.5 must be less than right=0.2"),
        (["--size", "1280x720", "--background", "blue"], "background 'blue' is not a colour"),
    ],
)
def test_bad_requests_exit_2_with_the_reason(
    argv: list[str], message: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([str(folder), *argv]) == 2
    assert message in capsys.readouterr().err


def test_default_output_dir_comes_from_the_settings(
    folder: Path, isolated_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([str(folder / "a.jpg"), "--size", "1280x720"]) == 0
    (path,) = capsys.readouterr().out.splitlines()
    assert Path(path).parent == (isolated_environment / "out" / "reference-images").resolve()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_redraws_one_line_on_a_terminal() -> None:
    stream = _Terminal()
    progress = Progress(2, stream, width=10)
    progress.update(BatchItem(Path("a.jpg"), error="broken"))
    progress.update(BatchItem(Path("b.jpg")))
    frames = stream.getvalue().split("\r")[1:]
    assert frames[0].startswith("[#####-----] 1/2, 1 failed")
    assert frames[1].startswith("[##########] 2/2, 1 failed") and frames[1].endswith("\n")
