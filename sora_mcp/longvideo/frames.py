"""The last frame of a segment, as the exact-size first frame of the next one (decoded with PyAV)."""

from __future__ import annotations

import io
from pathlib import Path

from sora_mcp.imaging import FitRequest, fit_image
from sora_mcp.sizes import Size


def last_frame_png(video: Path) -> bytes:
    """The video's last decoded frame as PNG bytes; the same file always gives the same bytes.

    Deterministic on purpose: the next segment's create is keyed by its request, so a resumed plan (or a second
    replica) must rebuild byte-identical input.
    """
    import av
    from PIL import Image

    last = None
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            last = frame
        if last is None:
            raise ValueError(f"{video.name} has no video frames")
        image = Image.fromarray(last.to_ndarray(format="rgb24"), "RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def next_first_frame(video: Path, size: str, out_dir: Path) -> Path:
    """The last frame of `video`, fitted (cover) to exactly `size` and written as a PNG in `out_dir`."""
    outcome = fit_image(last_frame_png(video), FitRequest(target=Size.parse(size), mode="cover", format="png"), out_dir)
    return outcome.path
