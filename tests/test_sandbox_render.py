"""Rendered files opened with PyAV and Pillow: size, length, codec, audio, reference frame, labels."""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import openai
import pytest
from numpy.typing import NDArray
from PIL import Image

from sora_mcp.catalog import load_builtin
from sora_mcp.sandbox import NOTICE, WATERMARK, SandboxConfig, SandboxServer
from sora_mcp.sandbox.render import RenderCancelled, RenderSpec, Scene, render

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")

RGB = NDArray[np.uint8]
BROWSER_PROFILES = {"Constrained Baseline", "Baseline", "Main", "High"}


def frames_of(path: Path) -> list[RGB]:
    with av.open(str(path)) as container:
        return [np.asarray(frame.to_ndarray(format="rgb24")) for frame in container.decode(video=0)]


def mean_abs_diff(a: RGB, b: RGB) -> float:
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))


def centre(image: RGB) -> RGB:
    """The middle 80 %: away from the corner stamps."""
    h, w = image.shape[:2]
    return image[h // 10 : h - h // 10, w // 10 : w - w // 10]


def photo_like(width: int, height: int, seed: int = 1) -> bytes:
    """A smooth but detailed PNG: gradients and soft blobs, like a photograph rather than noise."""
    rng = np.random.default_rng(seed)
    small_w, small_h = width // 8, height // 8
    yy, xx = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    image = np.zeros((small_h, small_w, 3), np.float32)
    for channel in range(3):
        image[..., channel] = 60 + 120 * (xx / small_w if channel == 0 else yy / small_h if channel == 1 else 0.5)
        for _ in range(6):
            cx, cy, r = rng.uniform(0, small_w), rng.uniform(0, small_h), rng.uniform(5, 25)
            image[..., channel] += 70 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
    small = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    small.resize((width, height), Image.Resampling.BICUBIC).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def upper(image: RGB) -> RGB:
    """Where the prompt is drawn: below the banner, above the moving marker and the timecode."""
    h = image.shape[0]
    return image[h // 10 : 3 * h // 4]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = RenderSpec(1280, 720, 4, (Scene(0.0, "a red kite over green hills"),), audio=True, fps=8, caption="t")
    return render(spec, tmp_path_factory.mktemp("render"), "video_generated").video


def test_video_is_h264_yuv420p_at_the_exact_size_and_length(generated: Path) -> None:
    with av.open(str(generated)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.profile in BROWSER_PROFILES
        assert stream.format.name == "yuv420p"
        assert (stream.width, stream.height) == (1280, 720)
        assert stream.duration is not None and stream.time_base is not None
        assert abs(float(stream.duration * stream.time_base) - 4.0) <= 1 / 8
        assert container.duration is not None and abs(container.duration / 1e6 - 4.0) <= 1 / 8
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded == 32


def test_mp4_is_faststart_and_labelled(generated: Path) -> None:
    data = generated.read_bytes()
    with av.open(str(generated)) as container:
        metadata = dict(container.metadata)

    assert 0 < data.find(b"moov") < data.find(b"mdat")  # playable before fully downloaded
    assert metadata["title"] == WATERMARK
    assert metadata["comment"].startswith(NOTICE)
    assert "video_generated" in metadata["comment"]


def test_audio_track_is_aac_and_as_long_as_the_video(generated: Path) -> None:
    with av.open(str(generated)) as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "aac"
        assert audio.duration is not None and audio.time_base is not None
        length = float(audio.duration * audio.time_base)
        samples = np.concatenate([frame.to_ndarray().ravel() for frame in container.decode(audio=0)])
    assert abs(length - 4.0) <= 1 / 8
    assert 0.005 < float(np.sqrt(np.mean(samples**2))) < 0.1  # a quiet tone, not silence


def test_no_audio_track_when_the_model_has_none(tmp_path: Path) -> None:
    spec = RenderSpec(720, 1280, 2, (Scene(0.0, "silent"),), audio=False, fps=4)

    with av.open(str(render(spec, tmp_path, "silent").video)) as container:
        assert len(container.streams.audio) == 0
        assert (container.streams.video[0].width, container.streams.video[0].height) == (720, 1280)


def test_frames_show_a_running_timecode_and_motion(generated: Path) -> None:
    frames = frames_of(generated)
    h = frames[0].shape[0]
    stamp = slice(h - h // 8, h)  # the bottom strip: timecode and progress bar

    assert mean_abs_diff(frames[0][stamp], frames[8][stamp]) > 1.0
    assert mean_abs_diff(frames[0], frames[16]) > 0.2
    assert mean_abs_diff(frames[0][: h // 2], frames[16][: h // 2]) < 2.0  # the backdrop and prompt stay put


def test_banner_is_drawn_at_the_top(generated: Path) -> None:
    first = frames_of(generated)[0]
    band = first[: 720 // 16]

    assert float(band.mean()) < 40  # a dark strip
    yellow = (band[..., 0] > 180) & (band[..., 1] > 150) & (band[..., 2] < 90)
    assert int(yellow.sum()) > 200  # with yellow lettering


def test_prompts_change_the_picture(tmp_path: Path) -> None:
    a = render(RenderSpec(1280, 720, 1, (Scene(0.0, "first prompt"),), audio=False, fps=2), tmp_path, "a")
    b = render(RenderSpec(1280, 720, 1, (Scene(0.0, "a different one"),), audio=False, fps=2), tmp_path, "b")

    assert mean_abs_diff(centre(frames_of(a.video)[0]), centre(frames_of(b.video)[0])) > 3.0


def test_thumbnail_and_spritesheet(generated: Path) -> None:
    thumbnail_path = generated.with_suffix(".webp")
    sheet_path = generated.with_suffix(".jpg")
    with Image.open(thumbnail_path) as thumbnail:
        assert (thumbnail.format, thumbnail.size) == ("WEBP", (1280, 720))
        assert NOTICE in str(thumbnail.getexif().get(0x010E))
        thumb = np.asarray(thumbnail.convert("RGB"))
    with Image.open(sheet_path) as sheet:
        assert sheet.format == "JPEG"
        assert sheet.size == (4 * 256, 4 * 144)  # 16 tiles of 256x144
        assert sheet.info["comment"] == NOTICE.encode()
        first_tile = np.asarray(sheet.convert("RGB"))[:144, :256]

    first_frame = frames_of(generated)[0]
    assert mean_abs_diff(thumb, first_frame) < 4.0
    small = np.asarray(Image.fromarray(first_frame).resize((256, 144), Image.Resampling.BILINEAR))
    assert mean_abs_diff(first_tile, small) < 8.0


def test_first_frame_is_the_reference_then_it_moves(tmp_path: Path) -> None:
    reference = photo_like(1280, 720)
    spec = RenderSpec(1280, 720, 4, (Scene(0.0, "ref", reference),), audio=False, fps=8)
    frames = frames_of(render(spec, tmp_path, "ref").video)
    expected = np.asarray(Image.open(io.BytesIO(reference)).convert("RGB"))
    other = np.asarray(Image.open(io.BytesIO(photo_like(1280, 720, seed=2))).convert("RGB"))

    assert mean_abs_diff(centre(frames[0]), centre(expected)) < 3.0
    assert mean_abs_diff(frames[0], expected) < 8.0  # stamps included
    assert mean_abs_diff(centre(other), centre(expected)) > 10.0  # the measure can tell images apart
    assert mean_abs_diff(centre(frames[-1]), centre(expected)) > 1.5  # a slow zoom: it moves


def test_extension_scenes_follow_each_other(tmp_path: Path) -> None:
    scenes = (Scene(0.0, "first part"), Scene(2.0, "the extension"))
    frames = frames_of(render(RenderSpec(1280, 720, 4, scenes, audio=False, fps=4), tmp_path, "ext").video)

    assert len(frames) == 16
    assert mean_abs_diff(upper(frames[0]), upper(frames[7])) < 1.0
    assert mean_abs_diff(upper(frames[7]), upper(frames[8])) > 3.0


def test_a_cancelled_render_leaves_no_files(tmp_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()

    with pytest.raises(RenderCancelled):
        render(RenderSpec(1280, 720, 4, (Scene(0.0, "x"),), audio=True), tmp_path, "gone", cancel)

    assert list(tmp_path.iterdir()) == []


def test_render_spec_rejects_odd_sizes() -> None:
    with pytest.raises(ValueError, match="even"):
        RenderSpec(1279, 720, 4, (Scene(0.0, "x"),), audio=False)


# -- through the API: audio follows the model, the reference reaches the first frame ---------------------------


@pytest.fixture(scope="module")
def apiyi() -> Iterator[openai.OpenAI]:
    with SandboxServer(SandboxConfig(load_builtin("apiyi"), time_scale=0.01, fps=2)) as server:
        yield openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)


def download(client: openai.OpenAI, **create: object) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        video = client.videos.create_and_poll(poll_interval_ms=20, **create)  # type: ignore[arg-type]
        assert video.status == "completed"
        return client.videos.download_content(video.id).content


@pytest.mark.parametrize(
    ("profile_model", "seconds", "has_audio"),
    [("sora-2", "4", False), ("sora-2-pro", "10", True)],
)
def test_audio_exactly_when_the_model_has_it(
    apiyi: openai.OpenAI, profile_model: str, seconds: str, has_audio: bool
) -> None:
    data = download(apiyi, prompt="audio?", model=profile_model, seconds=seconds, size="1280x720")

    with av.open(io.BytesIO(data)) as container:
        assert (len(container.streams.audio) == 1) is has_audio
        video = container.streams.video[0]
        assert video.duration is not None and video.time_base is not None
        assert abs(float(video.duration * video.time_base) - int(seconds)) <= 1 / 2


def test_api_render_matches_size_and_starts_from_the_reference(apiyi: openai.OpenAI) -> None:
    reference = photo_like(1792, 1024, seed=5)
    data = download(
        apiyi,
        prompt="from a reference",
        model="sora-2-pro",
        seconds="10",
        size="1792x1024",
        input_reference=("ref.png", reference, "image/png"),
    )

    with av.open(io.BytesIO(data), mode="r") as container:
        first: RGB = np.asarray(next(container.decode(video=0)).to_ndarray(format="rgb24"), dtype=np.uint8)
    expected = np.asarray(Image.open(io.BytesIO(reference)).convert("RGB"))
    assert first.shape == (1024, 1792, 3)
    assert mean_abs_diff(centre(first), centre(expected)) < 3.0
