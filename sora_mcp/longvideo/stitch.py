"""Join segment MP4s into one with PyAV: stream copy when their codec parameters match, else re-encode.

Stream copy moves compressed packets with shifted timestamps (no decoding, so no quality loss and a fraction
of a second for minutes of video); re-encoding is the fallback for segments a provider rendered with
different parameters. Audio follows each segment's video clock, so it stays in sync and continuous.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

StitchMode = Literal["auto", "copy", "encode"]


@dataclass(frozen=True)
class StreamParams:
    """What must be equal for packets of two files to be decodable as one stream."""

    video: tuple[object, ...]
    audio: tuple[object, ...] | None


@dataclass(frozen=True)
class Stitched:
    path: Path
    method: Literal["copy", "encode"]
    seconds: float
    frames: int
    audio: bool


def _video_key(stream: Any) -> tuple[object, ...]:
    ctx = stream.codec_context
    return (ctx.name, ctx.width, ctx.height, ctx.pix_fmt, bytes(ctx.extradata or b""), stream.time_base)


def _audio_key(stream: Any) -> tuple[object, ...]:
    ctx = stream.codec_context
    return (ctx.name, ctx.sample_rate, ctx.layout.name, bytes(ctx.extradata or b""), stream.time_base)


def probe(path: Path) -> StreamParams:
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path.name} has no video stream")
        audio = container.streams.audio
        return StreamParams(_video_key(container.streams.video[0]), _audio_key(audio[0]) if audio else None)


def stitch(segments: list[Path], dest: Path, mode: StitchMode = "auto") -> Stitched:
    """Write the segments, in order, as one MP4 at `dest` (atomically)."""
    if not segments:
        raise ValueError("nothing to stitch")
    params = [probe(p) for p in segments]
    same = all(p == params[0] for p in params)
    method: Literal["copy", "encode"] = "copy" if (mode == "copy" or (mode == "auto" and same)) else "encode"
    if method == "copy" and not same:
        raise ValueError("the segments' codec parameters differ; stream copy would break decoding")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    try:
        if method == "copy":
            frames, seconds, audio = _copy(segments, tmp)
        else:
            frames, seconds, audio = _encode(segments, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return Stitched(path=dest, method=method, seconds=seconds, frames=frames, audio=audio)


def _copy(segments: list[Path], dest: Path) -> tuple[int, float, bool]:
    import av

    with av.open(str(segments[0])) as first:
        has_audio = bool(first.streams.audio)
    frames = 0
    offset = Fraction(0)  # seconds of video written so far
    with av.open(str(dest), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        with av.open(str(segments[0])) as template:
            out_video = out.add_stream_from_template(template.streams.video[0])
            out_audio = out.add_stream_from_template(template.streams.audio[0]) if has_audio else None
        last_dts: dict[str, int] = {}
        for path in segments:
            with av.open(str(path)) as container:
                v_in = container.streams.video[0]
                a_in = container.streams.audio[0] if has_audio else None
                end = offset
                for packet in container.demux(*(s for s in (v_in, a_in) if s is not None)):
                    if packet.dts is None or packet.size == 0:
                        continue
                    stream = packet.stream
                    target = out_video if stream is v_in else out_audio
                    assert target is not None
                    base = stream.time_base
                    assert base is not None
                    shift = int(offset / base)
                    packet.pts = None if packet.pts is None else packet.pts + shift
                    packet.dts = packet.dts + shift
                    kind = "v" if stream is v_in else "a"
                    if kind in last_dts and packet.dts <= last_dts[kind]:
                        continue  # an audio priming packet overlapping the previous segment's tail
                    last_dts[kind] = packet.dts
                    if kind == "v":
                        frames += 1
                        stop = Fraction((packet.pts or packet.dts) + (packet.duration or 0)) * base
                        end = max(end, stop)
                    packet.stream = target
                    out.mux(packet)
                offset = end
    return frames, float(offset), has_audio


def _encode(segments: list[Path], dest: Path) -> tuple[int, float, bool]:
    """Decode every segment and encode one H.264 (+ AAC) stream at the first segment's size and rate."""
    import av

    with av.open(str(segments[0])) as first:
        v0 = first.streams.video[0]
        width, height = v0.codec_context.width, v0.codec_context.height
        rate = v0.average_rate or Fraction(24)
        has_audio = bool(first.streams.audio)
        sample_rate = first.streams.audio[0].codec_context.sample_rate if has_audio else 48_000
    frames = 0
    samples = 0
    with av.open(str(dest), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        video = out.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "20"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        frame_time = Fraction(1) / rate  # set on frames only: a stream time base with faststart and AAC fails
        audio = out.add_stream("aac", rate=sample_rate, layout="mono") if has_audio else None
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=sample_rate) if has_audio else None
        for path in segments:
            start = frames
            with av.open(str(path)) as container:
                v_in = container.streams.video[0]
                a_in = container.streams.audio[0] if (audio is not None and container.streams.audio) else None
                for packet in container.demux(*(s for s in (v_in, a_in) if s is not None)):
                    for frame in packet.decode():
                        if isinstance(frame, av.VideoFrame):
                            picture = frame.reformat(width=width, height=height, format="yuv420p")
                            picture.pts = frames
                            picture.time_base = frame_time
                            out.mux(video.encode(picture))
                            frames += 1
                        elif isinstance(frame, av.AudioFrame) and audio is not None and resampler is not None:
                            # the segment's audio stays on its own video clock: nothing past its end
                            until = int(Fraction(start) / rate * sample_rate) + int(
                                Fraction(v_in.frames or 0) / rate * sample_rate
                            )
                            for chunk in resampler.resample(frame):
                                if samples + chunk.samples > until:
                                    continue
                                chunk.pts = samples
                                chunk.time_base = Fraction(1, sample_rate)
                                out.mux(audio.encode(chunk))
                                samples += chunk.samples
        out.mux(video.encode(None))
        if audio is not None:
            out.mux(audio.encode(None))
    return frames, float(Fraction(frames) / rate), has_audio
