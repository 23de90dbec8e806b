"""The official MCP conformance suite (`@modelcontextprotocol/conformance`, pinned in tests/conformance, run with
the Node 22 the npm package `node` provides) against `sora-mcp serve --transport http` on the sandbox.

Every scenario is classified: those that apply to this server must pass; the others exercise fixture tools,
resources and prompts of the suite's reference server (`test_image_content`, `test://static-text`, ...) or
capabilities this server does not offer, and are listed with the reason. README "Conformance" shows the table.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.interop import support

APPLIES = {
    "server-initialize": "initialize handshake",
    "ping": "ping",
    "tools-list": "tools/list",
    "resources-list": "resources/list",
    "dns-rebinding-protection": "Host/Origin checks (TransportSecuritySettings)",
    "server-sse-multiple-streams": "SSE streams; stateless, so no session id: the suite warns and checks nothing more",
}
VACUOUS = {
    "tools-call-simple-text": "calls the fixture tool test_simple_text; the unknown-tool error result satisfies it",
    "tools-call-error": "calls the fixture tool test_error_handling; the unknown-tool error result satisfies it",
}
FIXTURES = "needs a fixture of the suite's reference server that this server does not have"
DOES_NOT_APPLY = {
    "logging-set-level": "logging capability not offered",
    "completion-complete": "completions capability not offered",
    "tools-call-image": FIXTURES + " (tool test_image_content)",
    "tools-call-audio": FIXTURES + " (tool test_audio_content)",
    "tools-call-embedded-resource": FIXTURES + " (tool test_embedded_resource)",
    "tools-call-mixed-content": FIXTURES + " (tool test_multiple_content_types)",
    "tools-call-with-logging": FIXTURES + " (tool test_tool_with_logging)",
    "tools-call-with-progress": FIXTURES + " (tool test_tool_with_progress; progress is tested in test_http_transport)",
    "tools-call-sampling": FIXTURES + " (tool test_sampling); the server never samples",
    "tools-call-elicitation": FIXTURES + " (tool test_elicitation); the server never elicits",
    "json-schema-2020-12": FIXTURES + " (tool json_schema_2020_12_tool)",
    "elicitation-sep1034-defaults": FIXTURES + "; the server never elicits",
    "elicitation-sep1330-enums": FIXTURES + "; the server never elicits",
    "server-sse-polling": FIXTURES + " (tool test_reconnection) and a session (the server is stateless)",
    "resources-read-text": FIXTURES + " (resource test://static-text)",
    "resources-read-binary": FIXTURES + " (resource test://static-binary)",
    "resources-templates-read": FIXTURES + " (template test://template/{id}/data)",
    "resources-subscribe": "resources/subscribe not offered",
    "resources-unsubscribe": "resources/subscribe not offered",
    "prompts-list": "prompts not offered (the server has none)",
    "prompts-get-simple": "prompts not offered",
    "prompts-get-with-args": "prompts not offered",
    "prompts-get-embedded-resource": "prompts not offered",
    "prompts-get-with-image": "prompts not offered",
}
_RUN_DIR = re.compile(r"^server-(?P<name>.+)-\d{4}-\d\d-\d\dT[\d-]+Z$")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _results(out: Path) -> dict[str, list[str]]:
    """scenario → the statuses of its checks, from the suite's `-o` directory."""
    found: dict[str, list[str]] = {}
    for run in sorted(out.iterdir()):
        match = _RUN_DIR.match(run.name)
        assert match, run.name
        checks = json.loads((run / "checks.json").read_text())
        found[match["name"]] = [check["status"] for check in checks]
    return found


@pytest.mark.slow
def test_conformance_suite(tmp_path: Path) -> None:
    modules = support.node_modules(support.CONFORMANCE_DIR)
    node = modules / ".bin" / "node"
    cli = modules / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
    port = _free_port()
    env = support.server_env(tmp_path)
    command = [sys.executable, "-m", "sora_mcp", "serve", "--transport", "http", "--no-auth", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        out = tmp_path / "results"
        argv = [str(node), str(cli), "server", "--url", url + "/mcp", "--suite", "all", "-o", str(out)]
        completed = support.run(argv, env=support.tool_env(), timeout=300, check=False)
    finally:
        server.terminate()
        server.wait(30)
    results = _results(out)
    table = "\n".join(
        f"  {name:<32} {'/'.join(sorted(set(statuses))):<20} "
        f"{'applies' if name in APPLIES else 'vacuous' if name in VACUOUS else 'n/a'}"
        for name, statuses in results.items()
    )
    sys.stderr.write(f"\nconformance {support.node_package_version(modules, '@modelcontextprotocol/conformance')}:\n")
    sys.stderr.write(table + "\n")
    assert set(results) == set(APPLIES) | set(VACUOUS) | set(DOES_NOT_APPLY), (
        "the suite's scenarios changed; classify them",
        sorted(set(results) ^ (set(APPLIES) | set(VACUOUS) | set(DOES_NOT_APPLY))),
    )
    for name in [*APPLIES, *VACUOUS]:
        assert "FAILURE" not in results[name], (name, completed.stdout[-4000:])
    for name in APPLIES:
        if name != "server-sse-multiple-streams":
            assert "SUCCESS" in results[name], name
    assert results["dns-rebinding-protection"].count("SUCCESS") == 2
