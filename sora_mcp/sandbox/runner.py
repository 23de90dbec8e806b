"""Run a sandbox on loopback in a background thread, startable from inside a running event loop.

uvicorn gets its own thread and its own loop, so the MCP server can start a sandbox in its lifespan and
talk to it with the real `openai` client exactly as it would talk to a provider. The socket is bound in the
caller's thread, so a busy port fails at once, and `start()` returns only when the server accepts requests.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Literal

import uvicorn

from sora_mcp.sandbox.app import build_app
from sora_mcp.sandbox.config import Faults, SandboxConfig
from sora_mcp.sandbox.connections import Transports, protocol_class
from sora_mcp.sandbox.service import SandboxService, remove_tree
from sora_mcp.sandbox.store import SandboxState

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 10.0


class SandboxError(RuntimeError):
    """The sandbox could not start (port taken, server crashed) or was used in the wrong state."""


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only then, and without it every
    # response (headers and body are written separately) waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


class SandboxServer:
    """A sandbox of the Videos API served over HTTP on `host:port` (port 0: a free port).

    Jobs are kept in `storage_dir` (see `SandboxConfig.storage_dir`): a later server on the same folder knows them.
    """

    def __init__(self, config: SandboxConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._address: tuple[str, int] | None = None
        self._owns_storage = config.storage_dir is None
        self.service = SandboxService(config, config.storage_dir)
        self._transports = Transports()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._stopped = False

    # -- addresses ---------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise SandboxError("the sandbox has not been started")
        return self._port

    @property
    def storage_dir(self) -> Path:
        """Where jobs and rendered files are kept (a temporary folder unless the config names one)."""
        if self.service.storage_dir is None:
            raise SandboxError("the sandbox has not been started")
        return self.service.storage_dir

    @property
    def address(self) -> tuple[str, int]:
        """The address actually bound (host, port): loopback unless another host was asked for."""
        if self._address is None:
            raise SandboxError("the sandbox has not been started")
        return self._address

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT` (a wildcard host is shown as loopback, where clients can reach it)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}"

    @property
    def base_url(self) -> str:
        """What `openai.OpenAI(base_url=...)` takes: `…/v1`; for the OpenRouter dialect `…/api/v1`, what the
        `openrouter` SDK takes as `server_url`."""
        return f"{self.url}{self.config.api_path}"

    # -- state -------------------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        return self.config.faults

    @property
    def state(self) -> SandboxState:
        """Every job accepted so far (also deleted ones) and the seconds billed: the ledger."""
        return self.service.state()

    def reset(self) -> None:
        """Forget all jobs, uploaded files, request counts and faults, so one server can serve many tests."""
        self.service.reset()

    def asset_path(self, video_id: str, variant: Literal["video", "thumbnail", "spritesheet"]) -> Path | None:
        """The finished file of a job on disk (its content is downloadable now), or None.

        The file is the sandbox's own copy: hard-link it rather than copying it, and never write to it. It is
        removed when the job is deleted, its content expires or the storage bound needs the room (a hard link
        elsewhere keeps the data).
        """
        return self.service.asset_path(video_id, variant)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopped

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> SandboxServer:
        """Bind, serve in a background thread, and return once requests are accepted."""
        if self._thread is not None or self._stopped:
            raise SandboxError("a SandboxServer can be started only once")
        self._socket = _bind(self.host, self._requested_port)
        if self.service.storage_dir is None:
            self.service.storage_dir = Path(tempfile.mkdtemp(prefix="sora-mcp-sandbox-"))
        try:
            self.service.open()
        except (OSError, sqlite3.Error) as exc:
            self._cleanup()
            raise SandboxError(f"cannot open the sandbox's storage in {self.service.storage_dir}: {exc}") from exc
        bound = self._socket.getsockname()
        self._address = (str(bound[0]), int(bound[1]))
        self._port = self._address[1]
        if self.config.wire == "openrouter":
            from sora_mcp.sandbox import openrouter

            app = openrouter.build_app(self.service, self._transports)
        else:
            app = build_app(self.service, self._transports)
        uv_config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            http=protocol_class(self._transports),
            ws="none",
            loop="asyncio",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
        )
        server = uvicorn.Server(uv_config)
        self._server = server
        sock = self._socket
        self._thread = threading.Thread(
            target=self._serve, args=(server, sock), name=f"sora-mcp-sandbox:{self._port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not server.started:
            if not self._thread.is_alive():
                self._cleanup()
                raise SandboxError("the sandbox server stopped while starting; see the log for why")
            if time.monotonic() > deadline:
                self.stop()
                raise SandboxError(f"the sandbox did not start within {START_TIMEOUT_SECONDS:g} s")
            time.sleep(0.005)
        log.info(
            "sandbox serving %s (profile %s, dialect %s)", self.base_url, self.config.catalog.profile, self.config.wire
        )
        return self

    @staticmethod
    def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except Exception:
            log.exception("sandbox server crashed")

    def stop(self) -> None:
        """Stop serving and cancel renders, and remove the files if the folder was temporary.

        In a named folder, a job whose render was cancelled stays unfinished: the next server to be asked about
        it renders it."""
        if self._stopped:
            return
        self._stopped = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_SECONDS)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(STOP_TIMEOUT_SECONDS)
        self._cleanup()

    def _cleanup(self) -> None:
        self._stopped = True
        self.service.close()
        if self._socket is not None:
            self._socket.close()
        if self._owns_storage and self.service.storage_dir is not None:
            remove_tree(self.service.storage_dir)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> SandboxServer:
        """Start without blocking the caller's event loop (the MCP server's lifespan)."""
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)
