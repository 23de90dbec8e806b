"""Starting and stopping the sandbox: in a thread, inside an event loop, on loopback, and as `sora-mcp sandbox`."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

from sora_mcp.catalog import load_builtin
from sora_mcp.sandbox import SandboxConfig, SandboxError, SandboxServer
from sora_mcp.sandbox.command import profile_for, register, run

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")


def config(**overrides: object) -> SandboxConfig:
    return SandboxConfig(load_builtin("apiyi"), time_scale=0.02, fps=2, **overrides)  # type: ignore[arg-type]


def test_base_url_is_loopback_with_the_chosen_port() -> None:
    with SandboxServer(config()) as server:
        assert server.address == ("127.0.0.1", server.port)
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert server.running
        assert server.state.jobs == () and server.state.billed_seconds == 0
    assert not server.running


def test_a_taken_port_fails_at_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = SandboxServer(config(), port=taken.getsockname()[1])
        with pytest.raises(OSError):
            server.start()


def test_start_once_stop_many() -> None:
    server = SandboxServer(config()).start()
    with pytest.raises(SandboxError, match="only once"):
        server.start()
    server.stop()
    server.stop()
    with pytest.raises(SandboxError):
        server.start()


def test_a_given_storage_dir_is_kept(tmp_path: Path) -> None:
    with SandboxServer(config(storage_dir=tmp_path)) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        video = client.videos.create_and_poll(prompt="kept", poll_interval_ms=20)
        asset = server.asset_path(video.id, "video")

    assert video.status == "completed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["locks", "renders", "sandbox.db", "tmp"]
    renders = tmp_path / "renders"
    assert sorted(p.name for p in renders.iterdir()) == [f"{video.id}.jpg", f"{video.id}.mp4", f"{video.id}.webp"]
    assert asset == renders / f"{video.id}.mp4"
    assert list((tmp_path / "locks").iterdir()) == [] and list((tmp_path / "tmp").iterdir()) == []


def test_reset_forgets_jobs_files_counts_and_faults() -> None:
    with SandboxServer(config()) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        done = client.videos.create_and_poll(prompt="done", poll_interval_ms=20)
        client.videos.create(prompt="still rendering")
        server.faults.rate_limit_next = 5

        server.reset()

        assert server.state.jobs == () and server.state.requests == {}
        assert server.faults.rate_limit_next == 0
        with pytest.raises(openai.NotFoundError):
            client.videos.retrieve(done.id)
        assert client.videos.list().data == []
        assert not any(server.storage_dir.rglob(f"{done.id}*"))
        assert server.asset_path(done.id, "video") is None


@pytest.mark.anyio
async def test_start_from_inside_a_running_event_loop() -> None:
    server = SandboxServer(config())
    server.start()  # blocking start inside a running loop is fine: uvicorn has its own loop and thread
    try:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client:
            created = await client.videos.create(prompt="from a loop")
            listed = await client.videos.list()
    finally:
        server.stop()
    assert [v.id for v in listed.data] == [created.id]


def test_config_validation() -> None:
    catalog = load_builtin("apiyi")
    for bad in ({"time_scale": -1.0}, {"asset_ttl_seconds": 0.0}, {"fps": 0}, {"api_key": " "}, {"render_workers": 0}):
        with pytest.raises(ValueError):
            SandboxConfig(catalog, **bad)
    assert SandboxConfig(catalog, time_scale=0.5).job_wall_seconds == 3.0
    assert SandboxConfig(catalog, time_scale=0.001).poll_after == 20


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sora-mcp")
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_registration_defaults_and_options(tmp_path: Path) -> None:
    defaults = parse(["sandbox"])
    catalog = str(tmp_path / "c.json")
    options = {"--host": "0.0.0.0", "--port": "0", "--profile": "openai", "--catalog": catalog}
    options |= {"--time-scale": "0.1", "--api-key": "sk-x", "--job-seconds": "2"}
    custom = parse(["sandbox", *(part for pair in options.items() for part in pair)])

    assert (defaults.host, defaults.port, defaults.profile, defaults.catalog) == ("127.0.0.1", 8765, None, None)
    assert (defaults.dialect, profile_for(defaults)) == (None, "apiyi")
    assert profile_for(parse(["sandbox", "--dialect", "openrouter", "--profile", "azure"])) == "azure"
    assert parse(["sandbox", "--dialect", "new-api"]).dialect == "new-api"
    assert (defaults.time_scale, defaults.api_key, defaults.job_seconds) == (1.0, None, 6.0)
    assert defaults.handler is run
    assert (custom.host, custom.port, custom.profile, custom.time_scale, custom.api_key) == (
        "0.0.0.0",
        0,
        "openai",
        0.1,
        "sk-x",
    )
    assert custom.catalog == tmp_path / "c.json"


def test_cli_reports_a_bad_catalog_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")

    code = run(parse(["sandbox", "--catalog", str(bad), "--port", "0"]))

    assert code == 2
    assert capsys.readouterr().out == ""


def read_line(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    buffered = ""
    while time.monotonic() < deadline:
        chunk = process.stdout.readline()
        buffered += chunk
        if buffered.endswith("\n"):
            return buffered
        if process.poll() is not None:
            break
        time.sleep(0.02)
    raise AssertionError(f"no startup line; exit code {process.poll()}, got {buffered!r}")


def test_standalone_cli_serves_a_client_until_interrupted() -> None:
    command = [sys.executable, "-m", "sora_mcp.sandbox.command", "sandbox", "--port", "0", "--profile", "openai"]
    command += ["--time-scale", "0.02", "--api-key", "sk-cli-key"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = read_line(process, time.monotonic() + 30)
        base_url = line.split()[3]
        client = openai.OpenAI(base_url=base_url, api_key="sk-cli-key", max_retries=0)
        video = client.videos.create_and_poll(prompt="standalone", poll_interval_ms=20)
        content = client.videos.download_content(video.id).content
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=base_url, api_key="sk-other", max_retries=0).videos.list()
    finally:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)

    assert line.startswith("sora-mcp sandbox serving http://127.0.0.1:")
    assert line.endswith("(profile openai, dialect openai)\n")
    assert base_url.endswith("/v1")
    assert video.status == "completed" and content[4:8] == b"ftyp"
    assert process.returncode == 0
    assert stdout == ""  # the single startup line was the only thing on stdout
    assert "stopping the sandbox" in stderr
