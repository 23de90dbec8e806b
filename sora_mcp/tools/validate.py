"""`validate_params`: any wish in, the nearest legal request out, never an exception."""

from __future__ import annotations

from typing import Annotated

from mcp.types import CallToolResult
from pydantic import Field

from sora_mcp.runtime import Runtime
from sora_mcp.tooling import ToolSpec, hints, ok
from sora_mcp.validation import Verdict, Wish, check, summarize


def specs(runtime: Runtime) -> list[ToolSpec]:
    def validate_params(
        model: Annotated[
            str | None, Field(description="model id or snapshot; omit (or '') to let the catalog choose")
        ] = None,
        seconds: Annotated[
            int | float | str | None,
            Field(description="wanted duration, e.g. 10 or '10' or '10s'; omitted, '' or 0: not given"),
        ] = None,
        duration: Annotated[
            int | float | str | None, Field(description="same as seconds (used when seconds is not given)")
        ] = None,
        size: Annotated[
            str | None,
            Field(
                description=(
                    "'1280x720', '1280×720', '720p landscape', '1080p portrait' or 'portrait'; omitted or '': not given"
                )
            ),
        ] = None,
        reference_width: Annotated[
            int | None, Field(description="width of a reference image in pixels; omitted or 0: no reference image")
        ] = None,
        reference_height: Annotated[
            int | None, Field(description="height of a reference image in pixels; omitted or 0: no reference image")
        ] = None,
        audio: Annotated[
            bool | None, Field(description="true: the video must have sound; omitted or false: no preference")
        ] = None,
        seed: Annotated[int | None, Field(description="a seed to send; omitted or 0: none")] = None,
        last_frame: Annotated[
            bool | None,
            Field(description="true: the video must end on a given frame (first and last frame); omitted or false: no"),
        ] = None,
        wish: Annotated[
            str | None,
            Field(
                description=(
                    "Optional free text, read for what the other arguments leave out: e.g. '10 s vertical 1080p', "
                    "'4:3', 'with audio', 'silent', 'first and last frame', 'seed 42'; omitted or '': none"
                )
            ),
        ] = None,
    ) -> Annotated[CallToolResult, Verdict]:
        request = Wish(
            model=model,
            seconds=seconds,
            duration=duration,
            size=size,
            reference_width=reference_width,
            reference_height=reference_height,
            audio=audio,
            seed=seed,
            last_frame=last_frame,
            text=wish,
        )
        verdict = check(runtime.catalog, request)
        return ok(summarize(verdict), verdict)

    return [
        ToolSpec(
            fn=validate_params,
            name="validate_params",
            title="Check a video request",
            description=(
                "Check any video wish before spending money: give what you know (model, seconds or duration, size "
                "such as '1280x720', '720p landscape', '1080p vertical', '4k' or '4:3', audio, seed, last_frame, "
                "a reference image's width and height, or a free-text wish such as '10 s vertical 1080p with "
                "audio, first and last frame'). The answer says whether it is valid, lists each problem in the "
                "provider's own error wording, and returns the nearest legal request for the model (request; "
                "some models make large sizes only at some durations), the legal durations just below and above "
                "the wish, other models that grant the wish exactly (alternatives) and the estimated cost. Pass "
                "its request to create_video as video={model, seconds, size} plus audio/seed/last_frame when "
                "the request has them."
            ),
            annotations=hints(read_only=True, idempotent=True, open_world=False),
        )
    ]
