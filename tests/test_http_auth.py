"""Who gets in over HTTP: OAuth JWTs from a real local issuer and bearer tokens from a token file.

The issuer's keys are generated here and its JWKS is served by a small HTTP server on 127.0.0.1. Every refused
request is a `tools/call create_video`: the provider (a sandbox on loopback) proves none reached a tool.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from sora_mcp.http.tokens import mint
from sora_mcp.sandbox import SandboxServer
from tests.http_support import ERAS, RunningHttp, http_server, mcp_client
from tests.videos_support import CANARY_KEY, SORA2_4S, structured, text_of

pytestmark = pytest.mark.anyio

SCOPE = "videos"


@dataclass
class Issuer:
    url: str
    jwks_url: str
    rsa_key: rsa.RSAPrivateKey
    ec_key: ec.EllipticCurvePrivateKey
    stranger: rsa.RSAPrivateKey
    """A key the JWKS does not hold, used under the RSA key's id: a wrong signature."""

    def token(self, audience: str, key: str = "rsa", **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "sub": "user-1",
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "scope": f"openid {SCOPE}",
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        if key == "ec":
            return jwt.encode(claims, self.ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        signer = self.stranger if key == "stranger" else self.rsa_key
        return jwt.encode(claims, signer, algorithm="RS256", headers={"kid": "rsa-1"})


def _unsigned(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]


def _hmac_forged(claims: dict[str, Any], key: bytes) -> str:
    """The algorithm-confusion attack: HS256 keyed with the issuer's public key (PyJWT refuses to make one)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = part(b'{"alg":"HS256","typ":"JWT","kid":"rsa-1"}') + "." + part(json.dumps(claims).encode())
    return signing_input + "." + part(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    keys = [
        {**json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key())), "kid": "rsa-1", "alg": "RS256", "use": "sig"},
        {**json.loads(ECAlgorithm.to_jwk(ec_key.public_key())), "kid": "ec-1", "alg": "ES256", "use": "sig"},
    ]
    body = json.dumps({"keys": keys}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/jwks.json" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    yield Issuer(url, url + "/jwks.json", rsa_key, ec_key, stranger)
    server.shutdown()


def _provider(sandbox: SandboxServer) -> dict[str, str]:
    return {"OPENAI_API_KEY": CANARY_KEY, "OPENAI_BASE_URL": sandbox.base_url, "SORA_MCP_PROFILE": "apiyi"}


CREATE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "create_video", "arguments": {"prompt": "x", "video": SORA2_4S, "wait_seconds": 0}},
}
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def _post(running: RunningHttp, authorization: str | None) -> httpx.Response:
    headers = dict(HEADERS)
    if authorization is not None:
        headers["Authorization"] = authorization
    return httpx.post(running.mcp_url, json=CREATE, headers=headers, timeout=30)


def _tenant_of_link(running: RunningHttp, url: str) -> tuple[str, float | None]:
    token = url.split("/downloads/", 1)[1].split("/", 1)[0]
    grant = running.built.signer.check(token)
    return grant.tenant.id, grant.tenant.daily_budget_usd


async def _render(running: RunningHttp, token: str, mode: str = "legacy") -> dict[str, Any]:
    async with mcp_client(running.mcp_url, mode, token) as client:
        created = await client.call_tool("create_video", {"prompt": "who am I", "video": SORA2_4S, "wait_seconds": 30})
        assert not created.is_error, text_of(created)
        return structured(created)


MATRIX_LOG: list[tuple[str, int]] = []
"""(case, HTTP status) as measured, printed with -s for the record."""


def _report(capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        sys.stderr.write("\n" + "\n".join(f"  {case:<40} {status}" for case, status in MATRIX_LOG) + "\n")
    MATRIX_LOG.clear()


def test_oauth_matrix(
    tmp_path: Path, issuer: Issuer, provider_sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        **_provider(provider_sandbox),
        "SORA_MCP_OAUTH_ISSUER": issuer.url,
        "SORA_MCP_OAUTH_JWKS_URL": issuer.jwks_url,
        "SORA_MCP_OAUTH_SCOPES": SCOPE,
    }
    with http_server(tmp_path, env) as running:
        audience = running.mcp_url
        now = int(time.time())
        refused = {
            "missing": None,
            "malformed (not a JWT)": "Bearer not.a.jwt",
            "malformed (Basic scheme)": "Basic dXNlcjpwYXNz",
            "malformed (bare Bearer)": "Bearer",
            "expired": "Bearer " + issuer.token(audience, exp=now - 120, iat=now - 600, nbf=now - 600),
            "not yet valid": "Bearer " + issuer.token(audience, nbf=now + 600),
            "wrong audience": "Bearer " + issuer.token("https://other.example/mcp"),
            "wrong issuer": "Bearer " + issuer.token(audience, iss="https://evil.example"),
            "wrong signature": "Bearer " + issuer.token(audience, key="stranger"),
            "alg none": "Bearer " + _unsigned({"iss": issuer.url, "sub": "u", "aud": audience, "exp": now + 300}),
            "HS256 keyed with the public key": "Bearer "
            + _hmac_forged(
                {"iss": issuer.url, "sub": "u", "aud": audience, "exp": now + 300, "scope": SCOPE},
                issuer.rsa_key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                ),
            ),
            "no exp": "Bearer " + issuer.token(audience, exp=None),
            "unknown key id": "Bearer "
            + jwt.encode(
                {"iss": issuer.url, "sub": "u", "aud": audience, "exp": now + 300},
                issuer.rsa_key,
                "RS256",
                headers={"kid": "nobody"},
            ),
        }
        metadata_url = f"{running.url}/.well-known/oauth-protected-resource/mcp"
        for case, authorization in refused.items():
            answer = _post(running, authorization)
            MATRIX_LOG.append((f"oauth: {case}", answer.status_code))
            assert answer.status_code == 401, (case, answer.text)
            challenge = answer.headers["www-authenticate"]
            assert challenge.startswith("Bearer ") and f'resource_metadata="{metadata_url}"' in challenge, case
            assert answer.json()["error"] == "invalid_token"
        no_scope = _post(running, "Bearer " + issuer.token(audience, scope="openid"))
        MATRIX_LOG.append(("oauth: valid, missing scope", no_scope.status_code))
        assert no_scope.status_code == 403 and no_scope.json()["error"] == "insufficient_scope"
        assert 'error="insufficient_scope"' in no_scope.headers["www-authenticate"]
        assert provider_sandbox.state.jobs == ()  # no refused request reached a tool
        assert not any("POST" in route and "videos" in route for route in provider_sandbox.state.requests)

        for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
            document = httpx.get(running.url + path).json()
            assert document["resource"] == audience, path
            assert [s.rstrip("/") for s in document["authorization_servers"]] == [issuer.url]
            assert document["scopes_supported"] == [SCOPE]

        for key in ("rsa", "ec"):
            answer = _post(running, "Bearer " + issuer.token(audience, key=key, scp=None, scope=SCOPE))
            MATRIX_LOG.append((f"oauth: valid ({key})", answer.status_code))
            assert answer.status_code == 200, answer.text
        assert len(provider_sandbox.state.jobs) == 1  # the identical second create returned the first job
    _report(capsys)


@pytest.mark.parametrize("mode", ERAS)
async def test_oauth_tenant_arrives(tmp_path: Path, issuer: Issuer, provider_sandbox: SandboxServer, mode: str) -> None:
    env = {
        **_provider(provider_sandbox),
        "SORA_MCP_OAUTH_ISSUER": issuer.url,
        "SORA_MCP_OAUTH_JWKS_URL": issuer.jwks_url,
    }
    with http_server(tmp_path, env) as running:
        named = await _render(running, issuer.token(running.mcp_url, sora_mcp_tenant="acme"), mode)
        assert _tenant_of_link(running, named["files"]["video"]) == ("acme", None)
        anonymous = await _render(running, issuer.token(running.mcp_url, sub="user-9"), mode)
        assert _tenant_of_link(running, anonymous["files"]["video"]) == (f"{issuer.url}#user-9", None)


def _token_file(path: Path, *entries: str) -> Path:
    path.write_text("# sora-mcp tokens\n" + "".join(e + "\n" for e in entries))
    return path


def test_bearer_matrix(tmp_path: Path, provider_sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    token, entry = mint("team-a", 2.5)
    tokens = _token_file(tmp_path / "tokens", entry.line())
    env = {**_provider(provider_sandbox), "SORA_MCP_TOKEN_FILE": str(tokens)}
    with http_server(tmp_path, env) as running:
        for case, authorization in {
            "missing": None,
            "unknown": "Bearer smcp_" + "A" * 43,
            "malformed (bare Bearer)": "Bearer",
            "malformed (Basic scheme)": "Basic " + token,
            "malformed (100 kB)": "Bearer " + "x" * 100_000,
            "the hash itself": "Bearer " + entry.line().split()[0],
        }.items():
            answer = _post(running, authorization)
            MATRIX_LOG.append((f"bearer: {case}", answer.status_code))
            assert answer.status_code == 401, case
        assert provider_sandbox.state.jobs == ()
        answer = _post(running, "Bearer " + token)
        MATRIX_LOG.append(("bearer: valid", answer.status_code))
        assert answer.status_code == 200, answer.text
        assert len(provider_sandbox.state.jobs) == 1

        # The file is re-read when it changes: a new token works at once, a removed one stops working.
        second, second_entry = mint("team-b")
        _token_file(tokens, second_entry.line())
        assert _post(running, "Bearer " + second).status_code == 200
        assert _post(running, "Bearer " + token).status_code == 401
    _report(capsys)


async def test_bearer_tenant_and_budget_arrive(tmp_path: Path, provider_sandbox: SandboxServer) -> None:
    minted = subprocess.run(
        [sys.executable, "-m", "sora_mcp", "token", "new", "--tenant", "team-a", "--daily-budget", "3"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = minted.stdout.strip()
    line = minted.stderr.strip().splitlines()[-1]
    assert token.startswith("smcp_") and token not in minted.stderr and line.endswith(" team-a 3")
    env = {**_provider(provider_sandbox), "SORA_MCP_TOKEN_FILE": str(_token_file(tmp_path / "tokens", line))}
    with http_server(tmp_path, env) as running:
        job = await _render(running, token)
        assert _tenant_of_link(running, job["files"]["video"]) == ("team-a", 3.0)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("team-a", "expected 'sha256:<hex> <tenant> [<daily budget USD>]'"),
        ("sha256:abcd team-a", "the hash is not 64 hexadecimal digits"),
        ("sha256:" + "0" * 64 + " team-a lots", "the daily budget 'lots' is not a number"),
        ("sha256:" + "0" * 64 + " team-a -1", "the daily budget '-1' is not a number"),
    ],
)
def test_an_unusable_token_file_is_refused_at_startup_naming_the_line(tmp_path: Path, line: str, problem: str) -> None:
    tokens = _token_file(tmp_path / "tokens", line)
    completed = subprocess.run(
        [sys.executable, "-m", "sora_mcp", "serve", "--transport", "http", "--token-file", str(tokens)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"sora-mcp: {tokens}:2: ") and problem in lines[0], lines
