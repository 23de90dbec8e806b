"""One redaction step: configured keys and anything credential-shaped, in text and in every log record."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from sora_mcp import redaction
from sora_mcp.redaction import REDACTED, redact

KEY = "sk-canary-3f9a1c7e5b2d4a6f8e0c"
ODD_KEY = "plain-secret-value-42"  # a configured key that matches no pattern: removed verbatim only


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Bearer {KEY}", f"Authorization: Bearer {REDACTED}"),
        ("bearer abc.def-ghi_jkl", f"bearer {REDACTED}"),
        ("key sk-proj-AbCdEf0123456789_xyz leaked", f"key {REDACTED} leaked"),
        ("use sk-1234567890abcdef please", f"use {REDACTED} please"),
        ("url?api_key=abcd1234efgh&x=1", f"url?api_key={REDACTED}&x=1"),
        ('{"api-key": "zzzz-yyyy-xxxx"}', f'{{"api-key": "{REDACTED}"}}'),
        ("token: 0123456789abcdef0123456789abcdef", f"token: {REDACTED}"),
        ("password=hunter22", f"password={REDACTED}"),
        ("the key 3f9a1c7e5b2d4a6f8e0c3f9a1c7e5b2d was sent", f"the key {REDACTED} was sent"),
        ("token QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MTIz==", f"token {REDACTED}"),
    ],
)
def test_credential_shapes_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5 is queued at 1280x720",
        "max_tokens=5 and the task-1234567890 finished",
        "Invalid value: '10'. Supported values are: '4', '8', and '12'.",
        "The key to a good prompt is detail.",
        "",
    ],
)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert redact(text) == text


def test_configured_secrets_are_removed_verbatim_and_idempotently() -> None:
    secret = "another-plain-value-77"
    text = f"gateway said {secret}!{secret}"
    once = redact(text, [secret])
    assert once == f"gateway said {REDACTED}!{REDACTED}"
    assert redact(once, [secret]) == once
    assert redact(text) == text  # not installed, not shaped like a key: left alone
    assert redact("short k stays", ["k"]) == "short k stays"  # too short to remove safely


@pytest.fixture
def stream_handler() -> Iterator[io.StringIO]:
    """A plain handler on the root logger, added before install(), the way a host configures logging."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_install_redacts_every_record_on_every_handler(
    stream_handler: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    redaction.install([ODD_KEY])
    log = logging.getLogger("sora_mcp.test_redaction")

    log.debug("configured %s", ODD_KEY)
    log.info("header %r", {"authorization": f"Bearer {KEY}"})
    log.warning("%(who)s used %(key)s", {"who": "agent", "key": KEY})
    log.info("%s %s %s %d", "127.0.0.1:5000", "GET", "/v1/videos", 200)  # uvicorn-style: args keep their shape
    try:
        raise RuntimeError(f"boom with {ODD_KEY}")
    except RuntimeError:
        log.exception("failed")

    text = stream_handler.getvalue() + caplog.text
    assert ODD_KEY not in text and KEY not in text
    assert f"configured {REDACTED}" in text
    assert "agent used" in text
    assert "127.0.0.1:5000 GET /v1/videos 200" in text
    assert f"RuntimeError: boom with {REDACTED}" in text
    record = next(r for r in caplog.records if r.getMessage().startswith("127.0.0.1"))
    assert record.args == ("127.0.0.1:5000", "GET", "/v1/videos", 200)


def test_install_quiets_http_header_logging_even_at_debug(stream_handler: io.StringIO) -> None:
    redaction.install([])
    for name in ("httpx", "httpx2", "httpcore", "httpcore2", "openai"):
        logger = logging.getLogger(name)
        assert not logger.isEnabledFor(logging.DEBUG), name
        logger.debug("send_request_headers.started request=<Request [b'POST']> Authorization: Bearer %s", KEY)
    assert stream_handler.getvalue() == ""


def test_install_never_makes_the_http_libraries_louder_than_the_root() -> None:
    """At the default WARNING, an INFO line per HTTP request would spam a host's stderr."""
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.WARNING)
    try:
        for name in ("httpx", "httpx2", "httpcore", "httpcore2", "openai"):
            logging.getLogger(name).setLevel(logging.NOTSET)
        redaction.install([])
        for name in ("httpx", "httpx2", "httpcore", "httpcore2", "openai"):
            assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
    finally:
        root.setLevel(old_level)
