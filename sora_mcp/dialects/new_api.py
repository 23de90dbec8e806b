"""New-API gateways (QuantumNous/new-api; APIYI's answers match it): the OpenAI shape with New-API's rules.

Create: JSON for text-to-video, multipart for image-to-video (one `input_reference`); `seconds` a string;
`size` plus `metadata.resolution` (720p/1080p/4k) and `metadata.aspect_ratio` from the catalog's frames; seed
and audio go in `metadata` only for models that take them (APIYI's Veo refuses `generateAudio`). Answers:
`task_…` ids with a `task_id` alias (used when `id` is missing), coarse progress (0/50/100), statuses
queued/in_progress/completed/failed (and `unknown`, read as in progress). No list, no delete documented; no
thumbnail or spritesheet variants.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from sora_mcp.dialects.base import Dialect, JobSnapshot, Unusable, VideoRequest, WireBody, kind
from sora_mcp.dialects.openai import parse_job as openai_job

if TYPE_CHECKING:
    from sora_mcp.catalog import ModelSpec


class NewApiDialect(Dialect):
    name: ClassVar[str] = "new-api"
    can_list: ClassVar[bool] = False
    can_delete: ClassVar[bool] = False
    can_extend: ClassVar[bool] = False
    has_variants: ClassVar[bool] = False

    def create_body(self, request: VideoRequest, model: ModelSpec | None) -> WireBody:
        metadata: dict[str, Any] = {}
        frame = model.frame(request.size) if model is not None else None
        if frame is not None:
            metadata["resolution"] = frame.resolution
            metadata["aspect_ratio"] = frame.aspect_ratio
        if model is not None and model.seed and request.seed is not None:
            metadata["seed"] = request.seed
        if model is not None and model.audio == "optional" and request.audio is not None:
            metadata["generate_audio"] = request.audio
        fields: dict[str, Any] = {
            "model": request.model,
            "prompt": request.prompt,
            (model.duration_param if model is not None else "seconds"): str(request.seconds),
            "size": request.size,
        }
        if request.first_frame is None:
            return WireBody(json={**fields, **({"metadata": metadata} if metadata else {})})
        form = {k: str(v) for k, v in fields.items()}
        if metadata:
            form["metadata"] = json.dumps(metadata, separators=(",", ":"))
        return WireBody(form=form, files=(("input_reference", request.first_frame),))

    def parse_job(
        self, data: object, *, secrets: Iterable[str] = (), poll_after: float | None = None, now: float | None = None
    ) -> JobSnapshot:
        if not isinstance(data, dict):
            raise Unusable(f"expected a JSON object, got {kind(data)}")
        item = dict(data)
        if item.get("id") is None and item.get("task_id") is not None:
            item["id"] = item["task_id"]
        if isinstance(item.get("status"), str) and item["status"].strip().lower() == "unknown":
            item["status"] = "in_progress"
        return openai_job(item, secrets=secrets, poll_after=poll_after, now=now)
