"""The sandbox's HTTP surface: the Videos API under `/v1` as a Starlette app, plus a ledger debug route.

Every API route goes through the same gate, in the provider's order: authentication, then injected faults
(latency, 429, 5xx), then the route's own rules. Error bodies are always `{"error": {...}}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from sora_mcp.sandbox import errors, rules
from sora_mcp.sandbox.body import read_body
from sora_mcp.sandbox.config import RouteName, SandboxConfig
from sora_mcp.sandbox.connections import Transports
from sora_mcp.sandbox.service import Content, SandboxService
from sora_mcp.sandbox.store import Job

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]
DISCONNECT_WAIT_SECONDS = 5.0
DOWNLOAD_CHUNKS_PER_SECOND = 20


def _request_id() -> str:
    return f"req_{secrets.token_hex(16)}"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    merged = {"x-request-id": _request_id(), **(headers or {})}
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(payload, status_code=status, headers=merged, media_type="application/json")


def error_response(rejection: errors.Rejection) -> Response:
    return json_response(rejection.error.body(), rejection.status, rejection.headers)


def authenticate(request: Request, api_key: str | None) -> None:
    """Bearer auth like the provider; Azure's `api-key` header is accepted too (AzureOpenAI sends it)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    key = token.strip() if scheme.lower() == "bearer" else ""
    if not key:
        key = request.headers.get("api-key", "").strip()
    if not key:
        raise errors.missing_api_key()
    if api_key is not None and not hmac.compare_digest(key.encode(), api_key.encode()):
        raise errors.incorrect_api_key(key)


async def _wait_for_disconnect(receive: Receive) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DISCONNECT_WAIT_SECONDS):
            while (await receive())["type"] != "http.disconnect":
                pass


class HangUp(Response):
    """No answer at all: the connection is reset after the request was processed."""

    def __init__(self, transports: Transports) -> None:
        super().__init__()
        self.transports = transports

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.transports.abort(scope.get("client")):
            log.warning("sandbox could not find the connection to drop; answering 500 instead")
            raise RuntimeError("connection to drop not found")
        await _wait_for_disconnect(receive)


class Download(Response):
    """A file, optionally throttled, or truncated: full Content-Length announced, half sent, then a reset."""

    def __init__(self, content: Content, config: SandboxConfig, transports: Transports) -> None:
        super().__init__()
        self.content = content
        self.rate = config.faults.download_bytes_per_second
        self.truncate = config.faults.truncate_downloads
        self.transports = transports

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            data = await asyncio.to_thread(self.content.path.read_bytes)
        except FileNotFoundError:  # deleted or reset between the lookup and the read
            await error_response(errors.video_not_found(self.content.video_id))(scope, receive, send)
            return
        headers = [
            (b"content-type", self.content.media_type.encode()),
            (b"content-length", str(len(data)).encode()),
            (b"content-disposition", f'inline; filename="{self.content.filename}"'.encode()),
            (b"x-request-id", _request_id().encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        body = data[: len(data) // 2] if self.truncate else data
        if self.rate and self.rate > 0:
            chunk = max(1, int(self.rate / DOWNLOAD_CHUNKS_PER_SECOND))
            for start in range(0, len(body), chunk):
                await send({"type": "http.response.body", "body": body[start : start + chunk], "more_body": True})
                await asyncio.sleep(chunk / self.rate)
        else:
            await send({"type": "http.response.body", "body": body, "more_body": self.truncate})
        if self.truncate:
            self.transports.abort(scope.get("client"))
            await _wait_for_disconnect(receive)
        elif self.rate:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


def gate_for(
    service: SandboxService,
    render_error: Callable[[errors.Rejection], Response],
    check_key: Callable[[Request, str | None], None] = authenticate,
) -> Callable[..., Endpoint]:
    """The wrapper every route of every dialect goes through: count, authenticate (unless public) the dialect's
    way, inject the configured faults, and render a rejection in the dialect's own error shape."""
    config = service.config
    faults = config.faults

    def gate(route: RouteName, handler: Endpoint, *, public: bool = False) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            service.store.count_request(route)
            try:
                if not public:
                    check_key(request, config.api_key)
                if faults.targets(route) and faults.latency_seconds > 0:
                    await asyncio.sleep(faults.latency_seconds)
                if faults.take_rate_limit(route):
                    raise errors.rate_limited(faults.retry_after_seconds)
                if faults.take_server_error(route):
                    raise errors.server_error(faults.error_status)
                return await handler(request)
            except errors.Rejection as rejection:
                return render_error(rejection)

        return endpoint

    return gate


def build_app(service: SandboxService, transports: Transports) -> Starlette:
    """The ASGI app for one sandbox instance."""
    config = service.config
    faults = config.faults
    gate = gate_for(service, error_response)

    def accepted(route: RouteName, job: Job) -> Response:
        if faults.take_drop(route):
            return HangUp(transports)
        return json_response(service.video(job, as_accepted=True))

    async def create(request: Request) -> Response:
        body = await read_body(request)
        parsed = rules.parse_create(body, config.catalog, service.store.file_bytes, new_api=config.wire == "new-api")
        rules.check_input_moderation(parsed.prompt, config.input_moderation_marker)
        service.check_capacity()
        job = await asyncio.to_thread(service.create, parsed)  # a durable commit: off the event loop
        return accepted("create", job)

    async def retrieve(request: Request) -> Response:
        video = service.retrieve(request.path_params["video_id"])
        return json_response(video, headers={"openai-poll-after-ms": str(config.poll_after)})

    async def list_videos(request: Request) -> Response:
        return json_response(service.list(rules.parse_list_query(request.query_params)))

    async def delete(request: Request) -> Response:
        return json_response(await asyncio.to_thread(service.delete, request.path_params["video_id"]))

    async def content(request: Request) -> Response:
        variant = rules.parse_variant(request.query_params)
        return Download(service.content(request.path_params["video_id"], variant), config, transports)

    async def remix(request: Request) -> Response:
        parsed = rules.parse_remix(await read_body(request), request.path_params["video_id"])
        rules.check_input_moderation(parsed.prompt, config.input_moderation_marker)
        source = await service.source(parsed, "remixed")
        service.check_capacity()
        return accepted("remix", await asyncio.to_thread(service.derive, source, "remix", parsed.prompt))

    async def edit(request: Request) -> Response:
        parsed = rules.parse_edit(await read_body(request))
        rules.check_input_moderation(parsed.prompt, config.input_moderation_marker)
        source = await service.source(parsed, "edited")
        service.check_capacity()
        return accepted("edit", await asyncio.to_thread(service.derive, source, "edit", parsed.prompt))

    async def extend(request: Request) -> Response:
        body = await read_body(request)
        parsed = rules.parse_extend(body)
        rules.check_input_moderation(parsed.prompt, config.input_moderation_marker)
        source = await service.source(parsed, "extended")
        step = rules.check_extension(
            parsed, source.spec, source.model_name, source.seconds, source.extension_steps, body.source
        )
        service.check_capacity()
        return accepted("extend", await asyncio.to_thread(service.derive, source, "extend", parsed.prompt, step))

    async def upload_file(request: Request) -> Response:
        upload = rules.parse_file_upload(await read_body(request))
        return json_response(await asyncio.to_thread(service.upload_file, upload))

    async def ledger(request: Request) -> Response:
        try:
            authenticate(request, config.api_key)
        except errors.Rejection as rejection:
            return error_response(rejection)
        return json_response(service.state().to_json())

    async def unknown(request: Request) -> Response:
        return error_response(errors.invalid_url(request.method, request.url.path))

    routes = [
        Route("/v1/videos", gate("create", create), methods=["POST"]),
        Route("/v1/videos", gate("list", list_videos), methods=["GET"]),
        Route("/v1/videos/extensions", gate("extend", extend), methods=["POST"]),
        Route("/v1/videos/edits", gate("edit", edit), methods=["POST"]),
        Route("/v1/videos/{video_id}", gate("retrieve", retrieve), methods=["GET"]),
        Route("/v1/videos/{video_id}", gate("delete", delete), methods=["DELETE"]),
        Route("/v1/videos/{video_id}/content", gate("content", content), methods=["GET"]),
        Route("/v1/videos/{video_id}/remix", gate("remix", remix), methods=["POST"]),
        Route("/v1/files", gate("upload_file", upload_file), methods=["POST"]),
        Route("/v1/sandbox/ledger", ledger, methods=["GET"]),
        Route("/{path:path}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
    ]
    return Starlette(routes=routes)
