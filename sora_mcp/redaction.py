"""One redaction step for everything that leaves the process: tool errors, provider messages, log records.

A provider (or a proxy in front of it) may echo the request's `Authorization` header into an error body, a
job's `error.message` or a response header, and the HTTP libraries log headers at DEBUG. `redact()` removes
the configured key(s) verbatim and anything shaped like a credential; `install()` makes every log record go
through it and keeps the HTTP libraries' header logging quiet even when the root logger is at DEBUG.

    redaction.install([api_key])          # once, when the key is known (VideoProvider.connect does it)
    redaction.redact(message, [api_key])  # on any text from the provider before it is shown or stored
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

REDACTED = "[redacted]"

_MIN_SECRET_LENGTH = 6
"""Shorter 'secrets' (a test key like 'k') are not removed verbatim: they would shred ordinary text."""

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer <anything token-like>
    (re.compile(r"(?i)\b(bearer|basic)(\s+)(?!\[redacted\])[A-Za-z0-9._~+/=:-]{4,}"), r"\1\2" + REDACTED),
    # OpenAI-style keys: sk-..., sk-proj-..., rk-..., sess-...
    (re.compile(r"\b(?:sk|rk|pk|sess)-[A-Za-z0-9_-]{8,}"), REDACTED),
    # key=value / key: value / "key": "value" for anything named like a credential
    (
        re.compile(
            r"""(?ix)
            (\b(?:api[_-]?key|access[_-]?key|secret|password|passwd|token|access[_-]?token|x-api-key)
            ["']?\s*[:=]\s*["']?)
            (?!\[redacted\])[^\s"'&,;}]{4,}
            """
        ),
        r"\1" + REDACTED,
    ),
    # a long hex or base64-ish run right after the word key/token (e.g. 'key 3f9a1c7e5b2d4a6f8e0c...')
    (re.compile(r"(?i)(\b(?:key|token)\s+)(?:[A-Fa-f0-9]{24,}|[A-Za-z0-9+/_-]{32,}={0,2})"), r"\1" + REDACTED),
)

_lock = threading.Lock()
_installed: set[str] = set()


def _secrets(extra: Iterable[str]) -> list[str]:
    with _lock:
        found = set(_installed)
    found.update(s for s in extra if isinstance(s, str))
    # longest first, so a key that contains another configured key is removed whole
    return sorted((s for s in found if len(s.strip()) >= _MIN_SECRET_LENGTH), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without the given secrets (and those passed to `install`) or anything shaped like a credential.

    Each secret is removed verbatim; then `Bearer …`, `sk-…`/`sk-proj-…` keys, `api_key=…`/`token: …` values and
    long hex/base64 runs after "key"/"token" become `[redacted]`. Idempotent: redacting twice changes nothing.
    """
    if not text:
        return text
    for secret in _secrets(secrets):
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message and args (and exception text) through `redact`; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        _scrub(record)
        return True


_PLAIN = (int, float, bool, type(None))


def _scrub_arg(value: object) -> object:
    """A string arg redacted; any other object whose text would reveal a secret replaced by its redacted text."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, _PLAIN):
        return value
    try:
        shown = str(value)
    except Exception:
        return value
    cleaned = redact(shown)
    return value if cleaned == shown else cleaned


def _scrub(record: logging.LogRecord) -> None:
    if getattr(record, "_sora_redacted", False):
        return
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    elif record.msg is not None and not isinstance(record.msg, _PLAIN):
        record.msg = _scrub_arg(record.msg)
    args = record.args
    if isinstance(args, tuple):
        record.args = tuple(_scrub_arg(a) for a in args)  # same length: formatters that unpack args still work
    elif isinstance(args, dict):
        record.args = {k: _scrub_arg(v) for k, v in args.items()}
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._sora_redacted = True


_FILTER = RedactingFilter()
_QUIET = ("httpx", "httpx2", "httpcore", "httpcore2")


_QUIET_OPENAI = ("openai", "openai._base_client")
_factory_installed = False


def install(secrets: Iterable[str]) -> None:
    """Redact every log record from now on, and silence the HTTP libraries' header logging.

    - `secrets` join the process-wide set `redact` always removes (call again to add more; never shrinks).
    - A `RedactingFilter` goes on every handler of the root logger, and a log-record factory applies the same
      step to records made later, so handlers added afterwards (pytest's caplog, a host's file handler) only
      ever see redacted text.
    - httpx/httpcore (and their `2` forks) are held at INFO and `openai` at INFO: their DEBUG lines print
      request and response headers, where an echoed key would appear.
    Safe to call more than once.
    """
    global _factory_installed
    with _lock:
        _installed.update(s for s in secrets if isinstance(s, str) and len(s.strip()) >= _MIN_SECRET_LENGTH)
        install_factory = not _factory_installed
        _factory_installed = True
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    for name in (*_QUIET, *_QUIET_OPENAI):
        quiet = logging.getLogger(name)
        if quiet.getEffectiveLevel() < logging.INFO:  # a floor only: never louder than the root says
            quiet.setLevel(logging.INFO)
    if install_factory:
        previous = logging.getLogRecordFactory()

        def factory(*args: object, **kwargs: object) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _scrub(record)
            return record

        logging.setLogRecordFactory(factory)
