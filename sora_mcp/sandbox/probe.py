"""Read an uploaded source video (edits and extensions): its size, length, first frame and sandbox origin.

The `openai` client can send `video` to `edit`/`extend` only as a file upload, so the sandbox must accept
one. A video the sandbox itself rendered names its job in its metadata; such an upload continues that job's
lineage (extension steps count), anything else becomes a fresh source starting from its first frame.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import av
from PIL import Image

from sora_mcp.sandbox.render import SOURCE_TAG

_SOURCE_ID = re.compile(re.escape(SOURCE_TAG) + r"(video_[0-9a-f]+)")


class ProbeError(ValueError):
    """The upload is not a video PyAV can read."""


@dataclass(frozen=True)
class VideoProbe:
    width: int
    height: int
    seconds: float
    first_frame_png: bytes
    sandbox_video_id: str | None


def probe_video(data: bytes) -> VideoProbe:
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise ProbeError("no video stream")
            stream = container.streams.video[0]
            comment = str(container.metadata.get("comment", ""))
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                seconds = container.duration / 1_000_000
            else:
                raise ProbeError("unknown duration")
            first = next(container.decode(stream))
            image = Image.fromarray(first.to_ndarray(format="rgb24"), "RGB")
            width, height = first.width, first.height
    except (av.error.FFmpegError, StopIteration, OSError) as exc:
        raise ProbeError(str(exc)) from None
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    match = _SOURCE_ID.search(comment)
    return VideoProbe(
        width=width,
        height=height,
        seconds=seconds,
        first_frame_png=buffer.getvalue(),
        sandbox_video_id=match.group(1) if match else None,
    )
