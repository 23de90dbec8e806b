"""Bad input over HTTP: each a clear 4xx within bounded time and resources, and the server keeps serving.

The header and body deadlines are set to 1 s here (10 s and 30 s in service) so slow clients are cut off
quickly; nothing is asserted about how long anything took.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from sora_mcp.http.limits import BoundedH11Protocol, RequestBounds
from sora_mcp.tenancy import LOCAL
from tests.http_support import RunningHttp, http_server, mcp_client
from tests.videos_support import SORA2_4S, structured

pytestmark = pytest.mark.anyio

MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
LIST = b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}'


class QuickDeadlines(BoundedH11Protocol):
    header_timeout = 1.0


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningHttp]:
    env = {"SORA_MCP_NO_AUTH": "true"}
    with http_server(tmp_path, env, http=QuickDeadlines) as served:
        assert isinstance(served.built.app, RequestBounds)
        served.built.app.body_timeout = 1.0
        yield served


def _raw(running: RunningHttp, head: bytes, body_parts: list[bytes] | None = None, pause: float = 0.0) -> bytes:
    """Send `head` (and `body_parts`, `pause` s apart) on a raw socket; everything the server answered."""
    port = int(running.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(head)
            for part in body_parts or []:
                if pause:
                    time.sleep(pause)
                sock.sendall(part)
        except OSError:  # the server answered and closed while we were still sending
            pass
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return answer


def _status(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split(b" ", 2)[1])


def _head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


MATRIX: list[tuple[str, int, str]] = []


def _case(name: str, status: int, body: bytes | str) -> None:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    MATRIX.append((name, status, " ".join(text.split())[:90]))


def _body(answer: bytes) -> bytes:
    return answer.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in answer else b""


def test_bad_requests_get_clear_4xx_and_the_server_keeps_serving(
    running: RunningHttp, capsys: pytest.CaptureFixture[str]
) -> None:
    url = running.mcp_url

    def http(method: str, **kwargs: object) -> Callable[[], tuple[int, bytes]]:
        def go() -> tuple[int, bytes]:
            answer = httpx.request(method, kwargs.pop("url", url), timeout=30, **kwargs)  # type: ignore[arg-type]
            return answer.status_code, answer.content

        return go

    def raw(head: bytes, parts: list[bytes] | None = None, pause: float = 0.0) -> Callable[[], tuple[int, bytes]]:
        def go() -> tuple[int, bytes]:
            answer = _raw(running, head, parts, pause)
            return _status(answer), _body(answer)

        return go

    big = 5 * 1024 * 1024
    chunk = b"x" * 65536
    chunked = [f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"] * (big // len(chunk))
    expected: dict[str, tuple[int, Callable[[], tuple[int, bytes]]]] = {
        "body over 4 MiB (Content-Length)": (
            413,
            raw(_head("POST", "/mcp", {**MCP_HEADERS, "Content-Length": str(big)})),
        ),
        "body over 4 MiB (chunked)": (
            413,
            raw(_head("POST", "/mcp", {**MCP_HEADERS, "Transfer-Encoding": "chunked"}), chunked),
        ),
        "headers trickling in (slowloris)": (
            408,
            raw(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n", [b"X-Slow: a\r\n"] * 8, pause=0.4),
        ),
        "connection sending nothing": (408, raw(b"")),
        "body trickling in": (
            408,
            raw(_head("POST", "/mcp", {**MCP_HEADERS, "Content-Length": "1000"}), [b'{"jsonrpc"'] * 4, pause=0.5),
        ),
        "invalid JSON": (400, http("POST", content=b'{"jsonrpc":', headers=MCP_HEADERS)),
        "not UTF-8": (400, http("POST", content=b"\xff\xfe\x00{", headers=MCP_HEADERS)),
        "JSON but not JSON-RPC": (400, http("POST", content=b'{"hello": 1}', headers=MCP_HEADERS)),
        "wrong Content-Type": (
            400,
            http("POST", content=LIST, headers={**MCP_HEADERS, "Content-Type": "text/plain"}),
        ),
        "no Accept for JSON and SSE": (406, http("POST", content=LIST, headers={**MCP_HEADERS, "Accept": "text/html"})),
        "unknown session id": (404, http("POST", content=LIST, headers={**MCP_HEADERS, "Mcp-Session-Id": "f00d"})),
        "GET stream (none offered)": (405, http("GET", headers={"Accept": "text/event-stream"})),
        "foreign Host (DNS rebinding)": (
            421,
            http("POST", content=LIST, headers={**MCP_HEADERS, "Host": "evil.example"}),
        ),
        "foreign Origin": (
            403,
            http("POST", content=LIST, headers={**MCP_HEADERS, "Origin": "http://evil.example"}),
        ),
        "one 1 MiB header": (400, raw(_head("POST", "/mcp", {**MCP_HEADERS, "X-Big": "y" * 1024 * 1024}))),
        "unknown path": (404, http("GET", url=running.url + "/nowhere")),
        "forged download link": (403, http("GET", url=running.url + "/downloads/eyJ0IjoiYSJ9.Zm9yZ2Vk/video.mp4")),
        "download link, bare": (404, http("GET", url=running.url + "/downloads/")),
    }
    bodies: dict[str, bytes] = {}
    for name, (status, attempt) in expected.items():
        got, bodies[name] = attempt()
        _case(name, got, bodies[name])
        assert got == status, (name, bodies[name][:300])
    assert b"Invalid HTTP request" in bodies["one 1 MiB header"]
    assert b"-32700" in bodies["invalid JSON"] and b"Session not found" in bodies["unknown session id"]

    # The server still serves, and holds no connection of the clients above.
    answer = httpx.post(url, content=LIST, headers=MCP_HEADERS, timeout=30)
    assert answer.status_code == 200 and b"create_video" in answer.content
    state = running.uvicorn.server_state
    deadline = time.monotonic() + 10
    while len(state.connections) > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(state.connections) == 0
    with capsys.disabled():
        sys.stderr.write("\n" + "\n".join(f"  {n:<36} {s}  {b}" for n, s, b in MATRIX) + "\n")


async def test_links_forged_tampered_or_expired_are_refused(tmp_path: Path) -> None:
    env = {"SORA_MCP_NO_AUTH": "true", "SORA_MCP_LINK_TTL_SECONDS": "2"}
    with http_server(tmp_path, env) as running:
        async with mcp_client(running.mcp_url, "legacy") as client:
            job = structured(
                await client.call_tool("create_video", {"prompt": "links", "video": SORA2_4S, "wait_seconds": 30})
            )
        link: str = job["files"]["video"]
        token = link.split("/downloads/", 1)[1].split("/", 1)[0]
        assert httpx.get(link).status_code == 200
        body, signature = token.rsplit(".", 1)
        middle = len(signature) // 2
        flipped = signature[:middle] + ("A" if signature[middle] != "A" else "Q") + signature[middle + 1 :]
        other_job = running.built.signer.sign(LOCAL, "not-this-job", "video")
        expired = running.built.signer.sign(LOCAL, job["job_id"], "video", now=time.time() - 3600)
        # the first character of the signature: all 6 of its bits count (the last one's low bits are padding, so
        # changing only those would still decode to the same signature)
        first = "A" if signature[0] != "A" else "Q"
        other_key = link.replace(token, f"{body}.{first}{signature[1:]}")
        cases = {
            "tampered signature": (link.replace(token, f"{body}.{flipped}"), 403),
            "tampered first signature character": (other_key, 403),
            "another job's link": (link.replace(token, other_job), 404),
            "expired": (link.replace(token, expired), 410),
        }
        for name, (address, status) in cases.items():
            answer = httpx.get(address)
            assert answer.status_code == status, (name, answer.text)
        assert "expired" in httpx.get(link.replace(token, expired)).text
        time.sleep(2.5)  # the link's own 2 s run out: replaying it is refused
        replay = httpx.get(link)
        assert replay.status_code == 410 and "get_video_status" in replay.text
