"""Stitching real sandbox renders with PyAV: stream copy when parameters match, re-encoding when not."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from sora_mcp.longvideo.stitch import probe, stitch
from sora_mcp.sandbox.render import RenderSpec, Scene, render


def segment(tmp_path: Path, name: str, width: int = 640, height: int = 360, audio: bool = True) -> Path:
    return render(RenderSpec(width, height, 2, (Scene(0.0, name),), audio=audio, fps=10), tmp_path, name).video


def streams(path: Path) -> tuple[int, float, bool]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video))
    with av.open(str(path)) as container:
        samples = sum(f.samples for f in container.decode(container.streams.audio[0])) if container.streams.audio else 0
        return frames, samples / 48_000, bool(container.streams.audio)


def test_matching_segments_are_stream_copied_with_continuous_audio(tmp_path: Path) -> None:
    parts = [segment(tmp_path, f"s{i}") for i in range(3)]
    result = stitch(parts, tmp_path / "out.mp4")
    frames, audio_seconds, has_audio = streams(result.path)
    assert result.method == "copy" and result.frames == frames == 60 and result.seconds == pytest.approx(6.0)
    assert has_audio and audio_seconds == pytest.approx(6.0, abs=0.1)
    assert probe(result.path).video == probe(parts[0]).video  # the packets are the segments' own


def test_segments_that_differ_are_re_encoded_to_the_first_ones_size(tmp_path: Path) -> None:
    parts = [segment(tmp_path, "a"), segment(tmp_path, "b", 320, 180)]
    result = stitch(parts, tmp_path / "out.mp4")
    frames, audio_seconds, has_audio = streams(result.path)
    assert result.method == "encode" and frames == 40 and has_audio
    assert audio_seconds == pytest.approx(4.0, abs=0.1)
    with av.open(str(result.path)) as container:
        assert (container.streams.video[0].width, container.streams.video[0].height) == (640, 360)
    with pytest.raises(ValueError, match="differ"):
        stitch(parts, tmp_path / "never.mp4", "copy")
    assert not (tmp_path / "never.mp4").exists()


def test_silent_segments_stay_silent(tmp_path: Path) -> None:
    parts = [segment(tmp_path, f"q{i}", audio=False) for i in range(2)]
    assert streams(stitch(parts, tmp_path / "out.mp4").path) == (40, 0.0, False)
