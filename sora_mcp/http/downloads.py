"""The download route: a signed link's file, for the tenant the link names, with HTTP range requests."""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from sora_mcp.errors import ToolError
from sora_mcp.http.links import DOWNLOAD_PREFIX, LinkRefused, LinkSigner
from sora_mcp.tenancy import acting_for
from sora_mcp.videos.delivery import local_path
from sora_mcp.videos.service import VideoService

logger = logging.getLogger(__name__)

MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".webp": "image/webp",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}


def download_route(signer: LinkSigner, service: VideoService) -> Route:
    async def download(request: Request) -> Response:
        try:
            grant = signer.check(request.path_params["token"])
        except LinkRefused as exc:
            return PlainTextResponse(str(exc), status_code=exc.status)
        with acting_for(grant.tenant):
            try:
                record = await service.lookup(grant.job_id)
            except ToolError:
                record = None
            path = local_path(record, grant.variant) if record is not None else None
            if record is not None and path is not None and not Path(path).is_file() and record.kind != "long":
                # another replica downloaded it onto its own disk: fetch it here from the provider, once
                try:
                    path = str((await service.download_asset(grant.job_id, grant.variant))[1])
                except ToolError as exc:
                    status = 410 if exc.info.code == "expired" else 404
                    return PlainTextResponse(exc.info.text(), status_code=status)
        if path is None or not Path(path).is_file():
            return PlainTextResponse("This file is no longer here (the job or its file was removed).", status_code=404)
        suffix = Path(path).suffix.lower()
        return FileResponse(
            path,
            media_type=MEDIA_TYPES.get(suffix, "application/octet-stream"),
            headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
            content_disposition_type="inline",
            filename=Path(path).name,
        )

    return Route(DOWNLOAD_PREFIX + "/{token}/{name}", download, methods=["GET", "HEAD"])
