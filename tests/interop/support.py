"""Provision real MCP clients (pinned, each in its own environment) and run their drivers against `sora-mcp serve`.

Nothing here imports a client: every client lives in its own virtual environment (Python) or in
`tests/interop/node/node_modules` (Node), and a small driver script runs there as a subprocess and prints one
JSON document on stdout, which the tests assert on. The project's own venv never gets a client installed
(langchain-mcp-adapters alone would downgrade `mcp`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NODE_DIR = HERE / "node"
CONFORMANCE_DIR = ROOT / "tests" / "conformance"
"""The official MCP conformance suite and the Node 22 it needs (npm package `node`), pinned: tests/test_conformance."""
DRIVERS = HERE / "drivers"

# Read once at import: the suite's autouse fixture later scrubs SORA_MCP_* and HOME for each test.
_REAL_HOME = os.environ.get("HOME") or str(Path.home())
CACHE = Path(os.environ.get("SORA_MCP_INTEROP_CACHE") or Path(_REAL_HOME) / ".cache" / "sora-mcp-interop").expanduser()
_PASSTHROUGH = (
    "PATH",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "SYSTEMROOT",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CONFIG_FILE",
)
_TOOL_ENV = {k: v for k, v in os.environ.items() if k in _PASSTHROUGH or k.startswith(("npm_config_", "PIP_"))}

PYTHON_CLIENTS: dict[str, list[str]] = {
    "fastmcp": ["fastmcp==4.2.3"],
    "openai-agents": ["openai-agents==0.24.0"],
    "pydantic-ai": ["pydantic-ai-slim[mcp]==2.68.0"],
    "langchain": ["langchain-mcp-adapters==0.3.2"],
}
"""Each Python client's pinned requirements; each gets its own virtual environment."""

INSTALL_TIMEOUT = 900.0
DRIVER_TIMEOUT = 240.0


class InteropError(AssertionError):
    """A client could not be provisioned or its driver misbehaved; the message carries its output."""


def sora_mcp_command() -> str:
    """The `sora-mcp` console script of the environment running the tests, by absolute path (as hosts need)."""
    script = Path(sys.executable).with_name("sora-mcp")
    if not script.exists():
        raise InteropError(f"no sora-mcp next to {sys.executable}; install the project (pip install -e .)")
    return str(script)


def tool_env(**extra: str) -> dict[str, str]:
    """Environment for pip/npm/node/driver processes: the real HOME (for their caches), PATH, nothing of ours."""
    env = {**_TOOL_ENV, "HOME": _REAL_HOME, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
    env.setdefault("PATH", os.defpath)
    env.update(extra)
    return env


def _tail(text: str | bytes | None, limit: int = 4000) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text if len(text) <= limit else "..." + text[-limit:]


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float,
    cwd: Path | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command in its own process group with a hard timeout; on timeout the whole group is killed."""
    process = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
        cwd=str(cwd or ROOT),
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise InteropError(
            f"{' '.join(argv[:4])} ... timed out after {timeout:.0f} s\n--- stdout:\n{_tail(stdout)}\n"
            f"--- stderr:\n{_tail(stderr)}"
        ) from None
    finally:
        # Servers started by a driver live in the driver's group; none may outlive it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    completed = subprocess.CompletedProcess(list(argv), process.returncode, stdout, stderr)
    if check and process.returncode != 0:
        raise InteropError(
            f"{' '.join(argv[:4])} ... exited {process.returncode}\n--- stdout:\n{_tail(stdout)}\n"
            f"--- stderr:\n{_tail(stderr)}"
        )
    return completed


def run_json(
    argv: Sequence[str], *, env: Mapping[str, str], timeout: float = DRIVER_TIMEOUT, cwd: Path | None = None
) -> Any:
    """Run a driver and parse the JSON document it printed last on stdout."""
    completed = run(argv, env=env, timeout=timeout, cwd=cwd)
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise InteropError(
            f"{' '.join(argv[:4])} ... printed no JSON\n--- stdout:\n{_tail(completed.stdout)}\n"
            f"--- stderr:\n{_tail(completed.stderr)}"
        ) from None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def python_client(name: str) -> Path:
    """The python of `<cache>/venv-<name>-<hash>`, built with exactly the client's pins if missing.

    The directory is keyed by the pinned requirements and the interpreter version, so a pin change builds a
    new environment; a half-built one (no `.complete` marker) is thrown away and rebuilt.
    """
    requirements = PYTHON_CLIENTS[name]
    spec = "\n".join(sorted(requirements)) + f"\npython {sys.version_info[0]}.{sys.version_info[1]}\n"
    key = hashlib.sha256(spec.encode()).hexdigest()[:12]
    venv = CACHE / f"venv-{name}-{key}"
    python = venv / "bin" / "python"
    marker = venv / ".complete"
    with _locked(CACHE / f".venv-{name}.lock"):
        if marker.exists() and python.exists():
            return python
        shutil.rmtree(venv, ignore_errors=True)
        base = getattr(sys, "_base_executable", None) or sys.executable
        started = time.monotonic()
        run([base, "-m", "venv", str(venv)], env=tool_env(), timeout=120)
        run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *requirements],
            env=tool_env(),
            timeout=INSTALL_TIMEOUT,
        )
        (venv / "requirements.txt").write_text(spec)
        marker.write_text(f"{time.monotonic() - started:.1f} s\n")
        # Drop stale environments of the same client (older pins).
        for old in CACHE.glob(f"venv-{name}-*"):
            if old != venv:
                shutil.rmtree(old, ignore_errors=True)
    return python


def node_modules(project: Path = NODE_DIR) -> Path:
    """`<project>/node_modules` (default tests/interop/node), installed by `npm ci` from the committed lock file
    when it changed."""
    npm = shutil.which("npm", path=tool_env()["PATH"])
    node = shutil.which("node", path=tool_env()["PATH"])
    if npm is None or node is None:
        raise InteropError("node and npm are needed for the Node clients (Node 20 or later)")
    lock = project / "package-lock.json"
    digest = hashlib.sha256(lock.read_bytes() + (project / "package.json").read_bytes()).hexdigest()
    modules = project / "node_modules"
    marker = modules / ".sora-mcp-interop-lock"
    with _locked(CACHE / (".npm.lock" if project == NODE_DIR else f".npm-{project.name}.lock")):
        if marker.exists() and marker.read_text() == digest:
            return modules
        run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            env=tool_env(npm_config_cache=str(CACHE / "npm-cache"), npm_config_update_notifier="false"),
            timeout=INSTALL_TIMEOUT,
            cwd=project,
        )
        marker.write_text(digest)
    return modules


def node_package_version(modules: Path, package: str) -> str:
    data = json.loads((modules / package / "package.json").read_text())
    version = data["version"]
    assert isinstance(version, str)
    return version


def server_env(home: Path, **overrides: str) -> dict[str, str]:
    """What a host would pass to `sora-mcp serve`: a private home, output and image folders, a fast sandbox."""
    env = tool_env(
        HOME=str(home),
        SORA_MCP_HOME=str(home / "sora-home"),
        SORA_MCP_OUTPUT_DIR=str(home / "out"),
        SORA_MCP_ALLOWED_DIRS=str(home / "images"),
        SORA_MCP_SANDBOX_TIME_SCALE="0.05",
        SORA_MCP_LOG_LEVEL="WARNING",
    )
    (home / "images").mkdir(parents=True, exist_ok=True)
    env.update(overrides)
    return env


def write_png(path: Path, width: int, height: int) -> Path:
    """A real RGB PNG (a gradient), written with the standard library only."""
    import struct
    import zlib

    rows = b"".join(
        b"\x00" + b"".join(bytes(((x * 255) // width, (y * 255) // height, 128)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )
    return path


def run_driver(
    python: Path, module: str, scenario: Mapping[str, Any], workdir: Path, timeout: float = DRIVER_TIMEOUT
) -> Any:
    """Run `tests/interop/drivers/<module>.py` with a client's python on `scenario`; its JSON report."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{module}-scenario.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    argv = [str(python), "-m", f"tests.interop.drivers.{module}", str(path)]
    return run_json(argv, env=tool_env(PYTHONPATH=str(ROOT)), timeout=timeout, cwd=ROOT)
