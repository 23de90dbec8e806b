"""One settings object for the whole server: command-line flag > environment > default, with the source kept.

The source of each value is kept so `sora-mcp config` can say why a value is what it is: most support
questions about MCP servers are "which key / which folder did it actually use?".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal, TypeVar

BackendKind = Literal["sandbox", "provider"]
TransportKind = Literal["stdio", "http"]
Source = Literal["flag", "env", "default", "derived"]
_T = TypeVar("_T")

OPENAI_BASE_URL = "https://api.openai.com/v1"
OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"
OPENROUTER_KEY_ENV = "OPENROUTER_API_KEY"
"""Read when OPENAI_API_KEY is not set: the key is OpenRouter's, so the base URL and profile default to it."""


def default_profile(backend: str, base_url: str | None) -> str:
    """The profile a setup gets without SORA_MCP_PROFILE: apiyi in the sandbox, openrouter for a base URL on
    openrouter.ai, else openai."""
    if backend == "sandbox":
        return "apiyi"
    from urllib.parse import urlsplit

    host = (urlsplit(base_url).hostname or "").lower() if base_url else ""
    if host == "openrouter.ai" or host.endswith(".openrouter.ai"):
        return "openrouter"
    return "openai"


class SettingsError(ValueError):
    """A configuration value that cannot be used; names the variable, the value and the fix."""


@dataclass(frozen=True)
class Option:
    """How one setting is spelled on the command line and in the environment."""

    name: str
    env: str
    flag: str
    help: str
    secret: bool = False
    switch: bool = False
    """A flag without a value (`--no-auth`); its environment variable takes true or false."""


OPTIONS: tuple[Option, ...] = (
    Option("backend", "SORA_MCP_BACKEND", "--backend", "sandbox or provider (default: sandbox without an API key)"),
    Option(
        "api_key",
        "OPENAI_API_KEY",
        "--api-key",
        f"API key of the provider ({OPENROUTER_KEY_ENV} is read when this is not set)",
        secret=True,
    ),
    Option(
        "base_url",
        "OPENAI_BASE_URL",
        "--base-url",
        f"base URL of the provider (default {OPENAI_BASE_URL}; {OPENROUTER_BASE_URL} with an OpenRouter key)",
    ),
    Option(
        "profile",
        "SORA_MCP_PROFILE",
        "--profile",
        "catalog profile: openai, apiyi, azure, openrouter or apiyi-veo (default: openrouter for a base URL on "
        "openrouter.ai, apiyi in the sandbox, else openai)",
    ),
    Option("catalog", "SORA_MCP_CATALOG", "--catalog", "path of a catalog file of your own (overrides the profile)"),
    Option("azure_deployment", "SORA_MCP_AZURE_DEPLOYMENT", "--azure-deployment", "Azure deployment name"),
    Option("home", "SORA_MCP_HOME", "--home", "data directory for the job ledger"),
    Option(
        "database_url",
        "SORA_MCP_DATABASE_URL",
        "--database-url",
        "postgresql://user:password@host/db puts the job ledger in PostgreSQL (for replicas; its password is never "
        "shown); default: a SQLite file in SORA_MCP_HOME",
    ),
    Option("output_dir", "SORA_MCP_OUTPUT_DIR", "--output-dir", "where videos, thumbnails and fitted images go"),
    Option("daily_budget_usd", "SORA_MCP_DAILY_BUDGET_USD", "--daily-budget", "USD per day; 0 forbids creating"),
    Option(
        "sandbox_daily_budget_usd",
        "SORA_MCP_SANDBOX_DAILY_BUDGET_USD",
        "--sandbox-daily-budget",
        "USD per day of simulated sandbox renders, counted apart from real spend",
    ),
    Option(
        "duplicate_window_seconds",
        "SORA_MCP_DUPLICATE_WINDOW_SECONDS",
        "--duplicate-window",
        "seconds an identical create returns the earlier job instead of paying again; 0 turns it off",
    ),
    Option("allowed_dirs", "SORA_MCP_ALLOWED_DIRS", "--allowed-dirs", "directories input images may come from"),
    Option("read_only", "SORA_MCP_READ_ONLY", "--read-only", "expose only tools annotated read-only"),
    Option("sandbox_time_scale", "SORA_MCP_SANDBOX_TIME_SCALE", "--time-scale", "sandbox job duration multiplier"),
    Option("log_level", "SORA_MCP_LOG_LEVEL", "--log-level", "DEBUG, INFO, WARNING or ERROR (logs go to stderr)"),
    Option(
        "catalog_max_age_hours",
        "SORA_MCP_CATALOG_MAX_AGE_HOURS",
        "--catalog-max-age",
        "hours the provider's model listing (OpenRouter) is used before it is read again (default 24); 0 never "
        "reads it: the cached copy, else the shipped snapshot",
    ),
    Option("transport", "SORA_MCP_TRANSPORT", "--transport", "stdio (default) or http (streamable HTTP)"),
    Option("host", "SORA_MCP_HOST", "--host", "HTTP: address to bind (default 127.0.0.1)"),
    Option("port", "SORA_MCP_PORT", "--port", "HTTP: port to bind (default 8000)"),
    Option(
        "public_url",
        "SORA_MCP_PUBLIC_URL",
        "--public-url",
        "HTTP: the URL clients reach, e.g. https://mcp.example.com behind a TLS proxy (default http://host:port); "
        "the OAuth audience is this URL + /mcp",
    ),
    Option(
        "no_auth",
        "SORA_MCP_NO_AUTH",
        "--no-auth",
        "HTTP: serve without authentication (refused unless the bind is loopback)",
        switch=True,
    ),
    Option("token_file", "SORA_MCP_TOKEN_FILE", "--token-file", "HTTP: bearer token file (see `sora-mcp token new`)"),
    Option("oauth_issuer", "SORA_MCP_OAUTH_ISSUER", "--oauth-issuer", "HTTP: OAuth 2.1 issuer whose JWTs are accepted"),
    Option("oauth_jwks_url", "SORA_MCP_OAUTH_JWKS_URL", "--oauth-jwks-url", "HTTP: the issuer's JWKS URL"),
    Option(
        "oauth_scopes", "SORA_MCP_OAUTH_SCOPES", "--oauth-scopes", "HTTP: scopes every JWT must carry (comma separated)"
    ),
    Option(
        "allowed_hosts",
        "SORA_MCP_ALLOWED_HOSTS",
        "--allowed-hosts",
        "HTTP: Host headers accepted (comma separated, host:* for any port; default loopback and the public URL's)",
    ),
    Option(
        "allowed_origins",
        "SORA_MCP_ALLOWED_ORIGINS",
        "--allowed-origins",
        "HTTP: Origin headers accepted (comma separated; default loopback and the public URL's)",
    ),
    Option(
        "link_secret",
        "SORA_MCP_LINK_SECRET",
        "--link-secret",
        "HTTP: key signing download links and request state; set the same on every replica (default: generated "
        "once into SORA_MCP_HOME/link-secret)",
        secret=True,
    ),
    Option(
        "link_ttl_seconds",
        "SORA_MCP_LINK_TTL_SECONDS",
        "--link-ttl",
        "HTTP: seconds a download link works (default 900)",
    ),
    Option(
        "player_max_video_mb",
        "SORA_MCP_PLAYER_MAX_VIDEO_MB",
        "--player-max-video-mb",
        "largest MP4 (MB) the player app receives through the host (base64 in one message; default 16); a larger "
        "one shows its thumbnail and path",
    ),
)
OPTIONS_BY_NAME = {o.name: o for o in OPTIONS}


def _default_output_dir(home: Path) -> Path:
    videos = home / "Videos"
    return (videos if videos.is_dir() else home) / "sora-mcp"


def _default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("sora-mcp", appauthor=False))


class InvalidValue(ValueError):
    """A setting's text is unusable; the message says what is wrong with it and the limit, e.g. 'must be 0 or more'."""


def _number(text: str, what: str = "is not a number") -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidValue(what) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidValue("must be a finite number")
    return value


def parse_backend(text: str) -> BackendKind:
    if text == "sandbox":
        return "sandbox"
    if text == "provider":
        return "provider"
    raise InvalidValue("is not a backend; use 'sandbox' or 'provider'")


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise InvalidValue("is not a boolean; use true or false")


def parse_budget(text: str) -> float:
    value = _number(text, "is not a number of US dollars, e.g. 10")
    if value < 0:
        raise InvalidValue("must be 0 or more (0 forbids creating)")
    return value


def parse_non_negative(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise InvalidValue("must be a finite number, 0 or more")
    return value


MAX_TIME_SCALE = 100.0


MAX_CATALOG_AGE_HOURS = 24 * 366.0
MAX_PLAYER_VIDEO_MB = 1024.0
DEFAULT_PLAYER_VIDEO_MB = 16.0


def parse_max_age(text: str) -> float:
    value = _number(text, "is not a number of hours, e.g. 24")
    if not 0 <= value <= MAX_CATALOG_AGE_HOURS:
        raise InvalidValue(f"must be 0 (never read the listing) or more, at most {MAX_CATALOG_AGE_HOURS:g} hours")
    return value


def parse_player_max_video_mb(text: str) -> float:
    value = _number(text, "is not a number of megabytes, e.g. 16")
    if not 0 <= value <= MAX_PLAYER_VIDEO_MB:
        raise InvalidValue(f"must be 0 (never send the MP4 to the player) or more, at most {MAX_PLAYER_VIDEO_MB:g} MB")
    return value


def parse_time_scale(text: str) -> float:
    value = _number(text)
    if not 0 < value <= MAX_TIME_SCALE:
        raise InvalidValue(
            f"must be greater than 0 and at most {MAX_TIME_SCALE:g} (1 is real time, 0.1 ten times faster)"
        )
    return value


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def parse_log_level(text: str) -> str:
    level = text.strip().upper()
    if level not in LOG_LEVELS:
        raise InvalidValue("is not DEBUG, INFO, WARNING or ERROR")
    return level


def parse_transport(text: str) -> TransportKind:
    if text == "stdio":
        return "stdio"
    if text == "http":
        return "http"
    raise InvalidValue("is not a transport; use 'stdio' or 'http'")


def parse_port(text: str) -> int:
    if not text.strip().isdigit() or not 0 < int(text) < 65536:
        raise InvalidValue("is not a TCP port (1 to 65535)")
    return int(text)


def parse_link_ttl(text: str) -> float:
    value = _number(text, "is not a number of seconds, e.g. 900")
    if not 0 < value <= 7 * 24 * 3600:
        raise InvalidValue("must be more than 0 and at most 604800 seconds (a week)")
    return value


def parse_list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _text(text: str) -> str:
    return text


def parse_database_url(text: str) -> str:
    """A PostgreSQL (`postgresql://…`) or SQLite (`sqlite:///path`) URL, refused with the reason otherwise."""
    scheme = text.split("://", 1)[0].split("+", 1)[0].lower() if "://" in text else ""
    if scheme not in ("postgresql", "postgres", "sqlite"):
        raise InvalidValue("is not a database URL; use postgresql://user:password@host:5432/db or sqlite:///path")
    return text


PARSERS: Mapping[str, Callable[[str], object]] = {
    "backend": parse_backend,
    "daily_budget_usd": parse_budget,
    "sandbox_daily_budget_usd": parse_non_negative,
    "duplicate_window_seconds": parse_non_negative,
    "read_only": parse_bool,
    "sandbox_time_scale": parse_time_scale,
    "log_level": parse_log_level,
    "catalog_max_age_hours": parse_max_age,
    "database_url": parse_database_url,
    "transport": parse_transport,
    "port": parse_port,
    "no_auth": parse_bool,
    "oauth_scopes": parse_list,
    "allowed_hosts": parse_list,
    "allowed_origins": parse_list,
    "link_ttl_seconds": parse_link_ttl,
    "player_max_video_mb": parse_player_max_video_mb,
}
"""How each setting's text becomes its value (settings not listed are plain text), shared by the environment and
the command line so both spellings have the same limits."""


def parser_for(name: str) -> Callable[[str], object]:
    """The function turning one setting's text into its value; raises `InvalidValue` naming the limit."""
    return PARSERS.get(name, _text)


@dataclass(frozen=True)
class Settings:
    """Resolved configuration. Build with `Settings.resolve`; `sources` says where each value came from."""

    backend: BackendKind
    api_key: str | None
    base_url: str | None
    profile: str
    catalog: Path | None
    azure_deployment: str | None
    home: Path
    output_dir: Path
    daily_budget_usd: float
    sandbox_daily_budget_usd: float
    duplicate_window_seconds: float
    allowed_dirs: tuple[Path, ...]
    read_only: bool
    sandbox_time_scale: float
    log_level: str
    catalog_max_age_hours: float = 24.0
    """How long a model listing read from the provider is used before it is read again (OpenRouter)."""
    database_url: str | None = None
    """Where the job ledger lives when not in the SQLite file under `home` (PostgreSQL, for replicas)."""
    transport: TransportKind = "stdio"
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    no_auth: bool = False
    token_file: Path | None = None
    oauth_issuer: str | None = None
    oauth_jwks_url: str | None = None
    oauth_scopes: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    link_secret: str | None = None
    link_ttl_seconds: float = 900.0
    """The HTTP transport's settings (`sora_mcp.http`); stdio reads none of them."""
    player_max_video_mb: float = DEFAULT_PLAYER_VIDEO_MB
    """The largest MP4 the player app gets through the host as one base64 blob."""
    sources: Mapping[str, Source] = field(default_factory=lambda: {})
    env_names: Mapping[str, str] = field(default_factory=lambda: {})
    """The environment variable a value came from when it is not the option's own (OPENROUTER_API_KEY)."""

    @classmethod
    def resolve(
        cls,
        flags: Mapping[str, str | None] | None = None,
        env: Mapping[str, str] | None = None,
        user_home: Path | None = None,
    ) -> Settings:
        """Apply flag > environment > default. `env` defaults to `os.environ`, `user_home` to `Path.home()`."""
        flags = flags or {}
        environ = os.environ if env is None else env
        home_dir = user_home or Path.home()
        sources: dict[str, Source] = {}

        def raw(name: str) -> str | None:
            option = OPTIONS_BY_NAME[name]
            value = flags.get(name)
            if value is not None:
                sources[name] = "flag"
                return value
            value = environ.get(option.env)
            if value is not None and value != "":
                sources[name] = "env"
                return value
            sources[name] = "default"
            return None

        def value(name: str, text: str, parse: Callable[[str], _T]) -> _T:
            try:
                return parse(text)
            except InvalidValue as exc:
                raise SettingsError(f"{_spelling(name, sources)}='{text}' {exc}") from None

        env_names: dict[str, str] = {}
        api_key = raw("api_key")
        openrouter_key = False
        if api_key is None and environ.get(OPENROUTER_KEY_ENV):
            api_key = environ[OPENROUTER_KEY_ENV]
            sources["api_key"] = "env"
            env_names["api_key"] = OPENROUTER_KEY_ENV
            openrouter_key = True
        backend_text = raw("backend")
        if backend_text is None:
            backend: BackendKind = "provider" if api_key else "sandbox"
            sources["backend"] = "derived"
        else:
            backend = value("backend", backend_text, parse_backend)
        if backend == "provider" and not api_key:
            raise SettingsError(
                "the provider backend needs an API key: set OPENAI_API_KEY or OPENROUTER_API_KEY (or --api-key), "
                "or use SORA_MCP_BACKEND=sandbox to run offline"
            )

        base_url = raw("base_url")
        if base_url is None and backend == "provider":
            base_url = OPENROUTER_BASE_URL if openrouter_key else OPENAI_BASE_URL
            sources["base_url"] = "derived"

        profile = raw("profile")
        if profile is None:
            profile = default_profile(backend, base_url)
            sources["profile"] = "derived"

        catalog_text = raw("catalog")
        catalog = Path(catalog_text).expanduser() if catalog_text else None

        home_text = raw("home")
        home = Path(home_text).expanduser() if home_text else _default_data_dir()

        output_text = raw("output_dir")
        output_dir = Path(output_text).expanduser() if output_text else _default_output_dir(home_dir)

        budget_text = raw("daily_budget_usd")
        budget = value("daily_budget_usd", budget_text, parse_budget) if budget_text is not None else 10.0
        sandbox_text = raw("sandbox_daily_budget_usd")
        sandbox_budget = (
            value("sandbox_daily_budget_usd", sandbox_text, parse_non_negative) if sandbox_text is not None else 100.0
        )
        window_text = raw("duplicate_window_seconds")
        duplicate_window = (
            value("duplicate_window_seconds", window_text, parse_non_negative) if window_text is not None else 600.0
        )

        dirs_text = raw("allowed_dirs")
        allowed_dirs = (
            tuple(Path(p).expanduser() for p in dirs_text.split(os.pathsep) if p) if dirs_text else (home_dir,)
        )

        read_only_text = raw("read_only")
        read_only = value("read_only", read_only_text, parse_bool) if read_only_text is not None else False

        scale_text = raw("sandbox_time_scale")
        time_scale = value("sandbox_time_scale", scale_text, parse_time_scale) if scale_text is not None else 1.0

        level_text = raw("log_level")
        log_level = value("log_level", level_text, parse_log_level) if level_text is not None else "WARNING"

        age_text = raw("catalog_max_age_hours")
        max_age = value("catalog_max_age_hours", age_text, parse_max_age) if age_text is not None else 24.0

        url_text = raw("database_url")
        database_url = value("database_url", url_text, parse_database_url) if url_text is not None else None

        def parsed(name: str, parse: Callable[[str], _T], default: _T) -> _T:
            text = raw(name)
            return default if text is None else value(name, text, parse)

        token_text = raw("token_file")
        player_text = raw("player_max_video_mb")
        player_mb = (
            value("player_max_video_mb", player_text, parse_player_max_video_mb)
            if player_text is not None
            else DEFAULT_PLAYER_VIDEO_MB
        )

        return cls(
            backend=backend,
            api_key=api_key,
            base_url=base_url,
            profile=profile,
            catalog=catalog,
            azure_deployment=raw("azure_deployment"),
            home=home,
            output_dir=output_dir,
            daily_budget_usd=budget,
            sandbox_daily_budget_usd=sandbox_budget,
            duplicate_window_seconds=duplicate_window,
            allowed_dirs=allowed_dirs,
            read_only=read_only,
            sandbox_time_scale=time_scale,
            log_level=log_level,
            catalog_max_age_hours=max_age,
            database_url=database_url,
            transport=parsed("transport", parse_transport, "stdio"),
            host=parsed("host", _text, "127.0.0.1"),
            port=parsed("port", parse_port, 8000),
            public_url=raw("public_url"),
            no_auth=parsed("no_auth", parse_bool, False),
            token_file=Path(token_text).expanduser() if token_text else None,
            oauth_issuer=raw("oauth_issuer"),
            oauth_jwks_url=raw("oauth_jwks_url"),
            oauth_scopes=parsed("oauth_scopes", parse_list, ()),
            allowed_hosts=parsed("allowed_hosts", parse_list, ()),
            allowed_origins=parsed("allowed_origins", parse_list, ()),
            link_secret=raw("link_secret"),
            link_ttl_seconds=parsed("link_ttl_seconds", parse_link_ttl, 900.0),
            player_max_video_mb=player_mb,
            sources=sources,
            env_names=env_names,
        )

    def describe(self) -> list[tuple[str, str, str, Source]]:
        """(setting, environment variable, value shown, source) for each option, secrets masked."""
        rows: list[tuple[str, str, str, Source]] = []
        for f in fields(self):
            if f.name in ("sources", "env_names"):
                continue
            option = OPTIONS_BY_NAME[f.name]
            value: object = getattr(self, f.name)
            if f.name == "database_url":
                shown = mask_url_password(value if isinstance(value, str) else None)
            elif option.secret:
                shown = mask_secret(value if isinstance(value, str) else None)
            elif isinstance(value, tuple) and all(isinstance(v, str) for v in value):  # pyright: ignore
                shown = ",".join(value)  # pyright: ignore[reportUnknownArgumentType]
            elif isinstance(value, tuple):
                shown = os.pathsep.join(str(v) for v in value)  # pyright: ignore[reportUnknownArgumentType]
            else:
                shown = "" if value is None else str(value)
            env = self.env_names.get(f.name, option.env)
            rows.append((f.name, env, shown, self.sources.get(f.name, "default")))
        return rows


def mask_secret(secret: str | None) -> str:
    """Never show any part of a key: only whether one is set."""
    return "(set, hidden)" if secret else "(not set)"


def mask_url_password(url: str | None) -> str:
    """A URL as shown by `sora-mcp config`: where it points, its password (if any) replaced by ***."""
    if not url:
        return "(not set)"
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "(set, hidden)"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    items = [item.partition("=") for item in parts.query.split("&") if item]
    query = "&".join(f"{k}=***" if k.lower() == "password" else f"{k}{sep}{v}" for k, sep, v in items)
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _spelling(name: str, sources: Mapping[str, Source]) -> str:
    option = OPTIONS_BY_NAME[name]
    return option.flag if sources.get(name) == "flag" else option.env


def argparse_type(parse: Callable[[str], _T]) -> Callable[[str], _T]:
    """`parse` as an argparse `type`: an `InvalidValue` becomes a one-line usage error naming the limit."""
    import argparse

    def convert(text: str) -> _T:
        try:
            return parse(text)
        except InvalidValue as exc:
            raise argparse.ArgumentTypeError(f"'{text}' {exc}") from None

    convert.__name__ = parse.__name__
    return convert
