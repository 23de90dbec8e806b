"""The test host page's JavaScript: `npm ci` from the committed lock file, then one esbuild bundle (idempotent).

`python -m tests.player_host.provision` does it ahead of the tests (CI); the browser test calls `bundle()` itself.
Installs share the interop tests' npm cache and lock; nothing is downloaded when the lock file is unchanged.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

from tests.interop.support import CACHE, INSTALL_TIMEOUT, InteropError, _locked, run, tool_env

HERE = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")


def bundle() -> Path:
    """`node_modules/.bundle/host.bundle.js`: host.js with ext-apps' AppBridge, rebuilt when an input changed."""
    npm = shutil.which("npm", path=tool_env()["PATH"])
    if npm is None or shutil.which("node", path=tool_env()["PATH"]) is None:
        raise InteropError("node and npm are needed for the player's test host (Node 20 or later)")
    inputs = b"".join((HERE / name).read_bytes() for name in ("package.json", "package-lock.json", "host.js"))
    digest = hashlib.sha256(inputs).hexdigest()
    modules = HERE / "node_modules"
    out = modules / ".bundle" / "host.bundle.js"
    marker = modules / ".bundle" / "inputs.sha256"
    env = tool_env(npm_config_cache=str(CACHE / "npm-cache"), npm_config_update_notifier="false")
    with _locked(CACHE / ".player-host.lock"):
        if marker.exists() and marker.read_text() == digest and out.exists():
            return out
        run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], env=env, timeout=INSTALL_TIMEOUT, cwd=HERE)
        esbuild = modules / ".bin" / "esbuild"
        run(
            [str(esbuild), "host.js", "--bundle", "--format=iife", f"--outfile={out}", "--log-level=warning"],
            env=env,
            timeout=120,
            cwd=HERE,
        )
        marker.write_text(digest)
    return out


if __name__ == "__main__":
    sys.stderr.write(f"player host bundle: {bundle()}\n")
