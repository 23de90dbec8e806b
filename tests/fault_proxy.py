"""A fault-injecting HTTP proxy on loopback, in front of a sandbox (or any HTTP/1.1 provider).

The sandbox's own `Faults` cover the polite failures (5xx, 429, a dropped create, slow downloads). This proxy
plays the hostile or broken provider: it forwards real requests to a real upstream and then lies about the
answer, per request pattern, so tests exercise the real `openai` client and the real provider layer.

    with FaultProxy(sandbox.base_url) as proxy:
        proxy.add(Fault(method="POST", path="/videos", drop=True))                 # accepted, answer lost
        proxy.add(Fault(path="/videos/[^/]+", json={"id": 12345, "status": None}))  # wrong types
        provider = VideoProvider.connect(base_url=proxy.base_url, api_key=KEY)
        ...
        assert proxy.forwarded("create") == 1

API
---
`FaultProxy(upstream_base_url, *, seed=0)`: a context manager (or `start()`/`stop()`) serving on an ephemeral
loopback port in a daemon thread with its own asyncio loop (raw sockets + h11, so it can do what ASGI cannot,
e.g. hang up without an answer).

- `base_url`: what to give the client; it keeps the upstream's path prefix (`http://127.0.0.1:P/v1`).
- `add(fault) -> Fault`, `clear()`: every fault whose pattern matches a request counts it; the first one (in
  the order added) that acts on it is applied, one per request. Thread-safe; change them while the proxy runs.
- `count(route=None)`: requests received for a route (all when None); `forwarded(route=None)`: those that
  reached the upstream. `requests`: every `Seen(method, path, route, forwarded, fault)` in order.
  `reset()`: clear faults and counts.
- Routes (`route_of(method, path)`, path without the prefix): `create` POST /videos, `list` GET /videos,
  `retrieve` GET /videos/{id}, `delete` DELETE /videos/{id}, `content` GET /videos/{id}/content,
  `remix` POST /videos/{id}/remix, `extend` POST /videos/extensions, `edit` POST /videos/edits, else `other`.

`Fault` fields (all optional):

- Matching: `method` and `path` are regexes, fully matched (method case-insensitively; path without the
  prefix and without the query string); `route` matches a route name instead of a path. `nth`: act only on
  the nth matching request (1-based, counted from when the fault was added); `times`: act N times, then
  stop; neither: every matching request.
  `hits` counts how often the fault acted.
- Timing: `delay` seconds before forwarding (or before answering when not forwarding).
- Reaching the provider: `forward=False` answers without the upstream ever seeing the request (then `status`
  defaults to 503 and the body is an OpenAI-style server error, or a rate-limit error for `status=429`).
- Losing the answer: `drop=True` closes the connection with no HTTP answer at all (after forwarding, unless
  `forward=False`): "the provider accepted it, the answer was lost".
- Rewriting the answer: `status` replaces the status code (forward, then say 500); `body` (bytes or str)
  replaces the body verbatim (`"{not json"`, HTML, `""`); `json` replaces it with a JSON value; `patch` merges
  keys into the JSON object answer (and into every item of a list's `data`); `job_id` sets `"id"` likewise
  (`"../../EVIL_rel"`, `"/abs/dir/pwn"`, `"a\\x00b"`, `"x" * 10240`, `"vidéo"`); `random_bytes=N` serves N
  seeded random bytes (a corrupt thumbnail or spritesheet); `content_type` sets Content-Type; `headers`
  sets response headers; `retry_after` sets `Retry-After` to any string (`"inf"`, `"1e9"`, `"-5"`, `"garbage"`).
- Echoing the key: every string in `body`, `json`, `patch` and `headers` may contain `{authorization}` (the
  request's whole Authorization header, `Bearer sk-...`) or `{key}` (the token alone), replaced per request.
  `echo_auth={"body", "error", "header"}` is a shorthand: the key in the answer's `"message"`, in the job's
  `error.message` (status forced to `failed` with code `echo`), and in an `X-Echo` response header.

Answers are buffered whole (sandbox files are small) and sent with an exact Content-Length.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import h11
import httpx2

ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(r"/videos/extensions"), "extend"),
    ("POST", re.compile(r"/videos/edits"), "edit"),
    ("POST", re.compile(r"/videos"), "create"),
    ("GET", re.compile(r"/videos"), "list"),
    ("GET", re.compile(r"/videos/[^/]+/content"), "content"),
    ("POST", re.compile(r"/videos/[^/]+/remix"), "remix"),
    ("GET", re.compile(r"/videos/[^/]+"), "retrieve"),
    ("DELETE", re.compile(r"/videos/[^/]+"), "delete"),
)

SERVER_ERROR = {
    "error": {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    }
}

RATE_LIMITED = {
    "error": {
        "message": "Rate limit reached for requests. Please try again later.",
        "type": "rate_limit_error",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}

_UNSET: Any = object()
_REASONS = {s.value: s.phrase for s in HTTPStatus}


def route_of(method: str, path: str) -> str:
    """The route name of a request (path without the base prefix and query), or `other`."""
    for verb, pattern, name in ROUTES:
        if method.upper() == verb and pattern.fullmatch(path):
            return name
    return "other"


@dataclass
class Fault:
    """One scripted misbehaviour; see the module docstring for every field."""

    method: str = r".*"
    path: str = r".*"
    route: str | None = None
    nth: int | None = None
    times: int | None = None
    delay: float = 0.0
    forward: bool = True
    drop: bool = False
    status: int | None = None
    body: bytes | str | None = None
    json: Any = _UNSET
    patch: dict[str, Any] | None = None
    job_id: str | None = None
    random_bytes: int | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: str | None = None
    echo_auth: frozenset[str] = frozenset()
    seen: int = 0
    """Matching requests so far (whether or not the fault acted)."""
    hits: int = 0
    """Requests the fault acted on."""

    def __post_init__(self) -> None:
        self._method = re.compile(self.method, re.IGNORECASE)
        self._path = re.compile(self.path)
        self.echo_auth = frozenset(self.echo_auth)
        unknown = self.echo_auth - {"body", "error", "header"}
        if unknown:
            raise ValueError(f"echo_auth takes body, error and header, not {sorted(unknown)}")

    def matches(self, method: str, path: str, route: str) -> bool:
        if not self._method.fullmatch(method):
            return False
        if self.route is not None:
            return route == self.route
        return self._path.fullmatch(path) is not None

    def take(self, *, spent: bool = False) -> bool:
        """Count a matching request; True when the fault acts on it (never when an earlier fault already did)."""
        self.seen += 1
        if self.nth is not None:
            acts = self.seen == self.nth
        elif self.times is not None:
            acts = self.hits < self.times
        else:
            acts = True
        if acts and not spent:
            self.hits += 1
            return True
        return False


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    route: str
    forwarded: bool
    fault: int | None
    """Index (in the order added) of the fault applied, if any."""


@dataclass
class _Request:
    method: str
    target: str
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> str:
        wanted = name.lower().encode()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return ""


_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"host", b"upgrade", b"te"}


class FaultProxy:
    """The proxy; see the module docstring."""

    def __init__(self, upstream_base_url: str, *, seed: int = 0) -> None:
        parts = urlsplit(upstream_base_url)
        self._upstream_origin = f"{parts.scheme}://{parts.netloc}"
        self.prefix = parts.path.rstrip("/")
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.requests: list[Seen] = []
        self._received: Counter[str] = Counter()
        self._forwarded: Counter[str] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._client: httpx2.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.port = 0

    # -- scripting --------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self.requests.clear()
            self._received.clear()
            self._forwarded.clear()

    def count(self, route: str | None = None) -> int:
        with self._lock:
            return sum(self._received.values()) if route is None else self._received[route]

    def forwarded(self, route: str | None = None) -> int:
        with self._lock:
            return sum(self._forwarded.values()) if route is None else self._forwarded[route]

    # -- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        if self._error is not None:
            raise RuntimeError("the fault proxy did not start") from self._error
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and self._thread is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
            self._thread.join(10)
        self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # pragma: no cover - surfaced by start()
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._client = httpx2.AsyncClient(timeout=httpx2.Timeout(300.0), follow_redirects=False, trust_env=False)
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._stopping = asyncio.Event()
        self._ready.set()
        await self._stopping.wait()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
        self._stopping.set()

    # -- serving ----------------------------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request = await self._read_request(conn, reader)
                if request is None:
                    return
                keep = await self._handle(request, writer, conn)
                if not keep or conn.our_state is not h11.DONE:
                    return
                try:
                    conn.start_next_cycle()
                except h11.LocalProtocolError:
                    return
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            return
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _read_request(self, conn: h11.Connection, reader: asyncio.StreamReader) -> _Request | None:
        head: h11.Request | None = None
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                conn.receive_data(data)
                if not data and head is None:
                    return None
                continue
            if isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body.extend(event.data)
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                return _Request(
                    head.method.decode(), head.target.decode("latin-1"), list(head.headers.raw_items()), bytes(body)
                )
            elif isinstance(event, h11.ConnectionClosed):
                return None

    def _pick(self, method: str, path: str, route: str) -> tuple[int | None, Fault | None]:
        chosen: tuple[int | None, Fault | None] = (None, None)
        with self._lock:
            self._received[route] += 1
            for index, fault in enumerate(self._faults):
                # every matching fault counts the request (so `nth` is the nth matching request overall);
                # the first one that acts on it is applied
                if fault.matches(method, path, route) and fault.take(spent=chosen[1] is not None):
                    chosen = (index, fault)
        return chosen

    async def _handle(self, request: _Request, writer: asyncio.StreamWriter, conn: h11.Connection) -> bool:
        raw_path = request.target.split("?", 1)[0]
        path = raw_path[len(self.prefix) :] if self.prefix and raw_path.startswith(self.prefix) else raw_path
        route = route_of(request.method, path)
        index, fault = self._pick(request.method, path, route)
        if fault is not None and fault.delay > 0:
            await asyncio.sleep(fault.delay)
        forwarding = fault is None or fault.forward
        status, headers, content = 503, [(b"content-type", b"application/json")], b""
        if forwarding:
            status, headers, content = await self._forward(request)
            with self._lock:
                self._forwarded[route] += 1
        elif fault is not None:
            content = json.dumps(RATE_LIMITED if fault.status == 429 else SERVER_ERROR).encode()
        with self._lock:
            self.requests.append(Seen(request.method, path, route, forwarding, index))
        if fault is not None:
            if fault.drop:
                writer.transport.abort()
                return False
            status, headers, content = self._rewrite(fault, request, status, headers, content)
        response_headers = [*headers, (b"content-length", str(len(content)).encode())]
        reason = _REASONS.get(status, "").encode()
        writer.write(conn.send(h11.Response(status_code=status, headers=response_headers, reason=reason)) or b"")
        if content:
            writer.write(conn.send(h11.Data(data=content)) or b"")
        writer.write(conn.send(h11.EndOfMessage()) or b"")
        await writer.drain()
        return True

    async def _forward(self, request: _Request) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        assert self._client is not None
        headers = [(k, v) for k, v in request.headers if k.lower() not in _HOP]
        response = await self._client.request(
            request.method,
            self._upstream_origin + request.target,
            headers=headers,
            content=request.body,
        )
        content = response.content
        kept = [(k, v) for k, v in response.headers.raw if k.lower() not in _HOP and k.lower() != b"content-encoding"]
        return response.status_code, kept, content

    def _rewrite(
        self, fault: Fault, request: _Request, status: int, headers: list[tuple[bytes, bytes]], content: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        authorization = request.header("authorization")
        key = authorization.split(" ", 1)[1] if " " in authorization else authorization

        def fill(value: Any) -> Any:
            if isinstance(value, str):
                return value.replace("{authorization}", authorization).replace("{key}", key)
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            if isinstance(value, list):
                return [fill(v) for v in value]
            return value

        if fault.status is not None:
            status = fault.status
        if fault.json is not _UNSET:
            content = json.dumps(fill(fault.json)).encode()
            headers = _set(headers, "content-type", "application/json")
        elif fault.body is not None:
            body = fill(fault.body) if isinstance(fault.body, str) else fault.body
            content = body.encode() if isinstance(body, str) else body
        elif fault.random_bytes is not None:
            with self._lock:
                content = self._rng.randbytes(fault.random_bytes)
        if fault.patch is not None or fault.job_id is not None or fault.echo_auth & {"body", "error"}:
            content = self._patch_json(fault, content, fill, authorization)
        if fault.content_type is not None:
            headers = _set(headers, "content-type", fault.content_type)
        if fault.retry_after is not None:
            headers = _set(headers, "retry-after", fault.retry_after)
        for name, value in fault.headers.items():
            headers = _set(headers, name, fill(value))
        if "header" in fault.echo_auth:
            headers = _set(headers, "x-echo", authorization)
            headers = _set(headers, "x-request-id", authorization)
        return status, headers, content

    def _patch_json(self, fault: Fault, content: bytes, fill: Any, authorization: str) -> bytes:
        try:
            data = json.loads(content)
        except ValueError:
            return content

        def patch(item: Any) -> Any:
            if not isinstance(item, dict):
                return item
            if fault.patch is not None:
                item.update(fill(fault.patch))
            if fault.job_id is not None:
                item["id"] = fault.job_id
            if "error" in fault.echo_auth and "status" in item:
                item["status"] = "failed"
                item["error"] = {"code": "echo", "message": f"upstream rejected {authorization} for this job"}
            return item

        if isinstance(data, dict) and isinstance(data.get("data"), list):
            data["data"] = [patch(i) for i in data["data"]]
        else:
            data = patch(data)
        if "body" in fault.echo_auth and isinstance(data, dict):
            if isinstance(data.get("error"), dict):
                data["error"]["message"] = f"{data['error'].get('message')} (you sent {authorization})"
            data["message"] = f"request authorised with {authorization}"
        return json.dumps(data).encode()


def _set(headers: list[tuple[bytes, bytes]], name: str, value: str) -> list[tuple[bytes, bytes]]:
    wanted = name.lower().encode()
    return [*((k, v) for k, v in headers if k.lower() != wanted), (wanted, value.encode("utf-8"))]


@contextlib.contextmanager
def fault_proxy(upstream_base_url: str, faults: Iterable[Fault] = ()) -> Iterator[FaultProxy]:
    """`with fault_proxy(url, [Fault(...)]) as proxy:` - a started proxy with these faults."""
    with FaultProxy(upstream_base_url) as proxy:
        for fault in faults:
            proxy.add(fault)
        yield proxy
