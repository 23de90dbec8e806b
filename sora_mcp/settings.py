"""One settings object for the whole server: command-line flag > environment > default, with the source kept.

The source of each value is kept so `sora-mcp config` can say why a value is what it is: most support
questions about MCP servers are "which key / which folder did it actually use?".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

Backend = Literal["sandbox", "provider"]
Source = Literal["flag", "env", "default", "derived"]

OPENAI_BASE_URL = "https://api.openai.com/v1"


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


OPTIONS: tuple[Option, ...] = (
    Option("backend", "SORA_MCP_BACKEND", "--backend", "sandbox or provider (default: sandbox without an API key)"),
    Option("api_key", "OPENAI_API_KEY", "--api-key", "API key of the provider", secret=True),
    Option("base_url", "OPENAI_BASE_URL", "--base-url", "OpenAI-compatible base URL of the provider"),
    Option("profile", "SORA_MCP_PROFILE", "--profile", "catalog profile: openai, apiyi or azure"),
    Option("catalog", "SORA_MCP_CATALOG", "--catalog", "path of a catalog file of your own (overrides the profile)"),
    Option("azure_deployment", "SORA_MCP_AZURE_DEPLOYMENT", "--azure-deployment", "Azure deployment name"),
    Option("home", "SORA_MCP_HOME", "--home", "data directory for the job ledger"),
    Option("output_dir", "SORA_MCP_OUTPUT_DIR", "--output-dir", "where videos, thumbnails and fitted images go"),
    Option("daily_budget_usd", "SORA_MCP_DAILY_BUDGET_USD", "--daily-budget", "USD per day; 0 forbids creating"),
    Option("allowed_dirs", "SORA_MCP_ALLOWED_DIRS", "--allowed-dirs", "directories input images may come from"),
    Option("read_only", "SORA_MCP_READ_ONLY", "--read-only", "expose only tools annotated read-only"),
    Option("sandbox_time_scale", "SORA_MCP_SANDBOX_TIME_SCALE", "--time-scale", "sandbox job duration multiplier"),
    Option("log_level", "SORA_MCP_LOG_LEVEL", "--log-level", "DEBUG, INFO, WARNING or ERROR (logs go to stderr)"),
)
OPTIONS_BY_NAME = {o.name: o for o in OPTIONS}


def _default_output_dir(home: Path) -> Path:
    videos = home / "Videos"
    return (videos if videos.is_dir() else home) / "sora-mcp"


def _default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("sora-mcp", appauthor=False))


def _parse_bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{name}='{text}' is not a boolean; use true or false")


@dataclass(frozen=True)
class Settings:
    """Resolved configuration. Build with `Settings.resolve`; `sources` says where each value came from."""

    backend: Backend
    api_key: str | None
    base_url: str | None
    profile: str
    catalog: Path | None
    azure_deployment: str | None
    home: Path
    output_dir: Path
    daily_budget_usd: float
    allowed_dirs: tuple[Path, ...]
    read_only: bool
    sandbox_time_scale: float
    log_level: str
    sources: Mapping[str, Source] = field(default_factory=lambda: {})

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

        api_key = raw("api_key")
        backend_text = raw("backend")
        if backend_text is None:
            backend: Backend = "provider" if api_key else "sandbox"
            sources["backend"] = "derived"
        elif backend_text in ("sandbox", "provider"):
            backend = backend_text  # type: ignore[assignment]
        else:
            raise SettingsError(
                f"{_spelling('backend', sources)}='{backend_text}' is not a backend; use 'sandbox' or 'provider'"
            )
        if backend == "provider" and not api_key:
            raise SettingsError(
                "the provider backend needs an API key: set OPENAI_API_KEY (or --api-key), "
                "or use SORA_MCP_BACKEND=sandbox to run offline"
            )

        base_url = raw("base_url")
        if base_url is None and backend == "provider":
            base_url = OPENAI_BASE_URL
            sources["base_url"] = "derived"

        profile = raw("profile")
        if profile is None:
            profile = "apiyi" if backend == "sandbox" else "openai"
            sources["profile"] = "derived"

        catalog_text = raw("catalog")
        catalog = Path(catalog_text).expanduser() if catalog_text else None

        home_text = raw("home")
        home = Path(home_text).expanduser() if home_text else _default_data_dir()

        output_text = raw("output_dir")
        output_dir = Path(output_text).expanduser() if output_text else _default_output_dir(home_dir)

        budget_text = raw("daily_budget_usd")
        try:
            budget = float(budget_text) if budget_text is not None else 10.0
        except ValueError:
            raise SettingsError(
                f"{_spelling('daily_budget_usd', sources)}='{budget_text}' is not a number of US dollars, e.g. 10"
            ) from None
        if budget < 0 or budget != budget:
            raise SettingsError(f"{_spelling('daily_budget_usd', sources)} must be 0 or more (0 forbids creating)")

        dirs_text = raw("allowed_dirs")
        allowed_dirs = (
            tuple(Path(p).expanduser() for p in dirs_text.split(os.pathsep) if p) if dirs_text else (home_dir,)
        )

        read_only_text = raw("read_only")
        read_only = _parse_bool(_spelling("read_only", sources), read_only_text) if read_only_text else False

        scale_text = raw("sandbox_time_scale")
        try:
            time_scale = float(scale_text) if scale_text is not None else 1.0
        except ValueError:
            raise SettingsError(f"{_spelling('sandbox_time_scale', sources)}='{scale_text}' is not a number") from None
        if not time_scale > 0:
            raise SettingsError(f"{_spelling('sandbox_time_scale', sources)} must be greater than 0")

        log_level = (raw("log_level") or "WARNING").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError(f"{_spelling('log_level', sources)}='{log_level}' is not DEBUG, INFO, WARNING or ERROR")

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
            allowed_dirs=allowed_dirs,
            read_only=read_only,
            sandbox_time_scale=time_scale,
            log_level=log_level,
            sources=sources,
        )

    def describe(self) -> list[tuple[str, str, str, Source]]:
        """(setting, environment variable, value shown, source) for each option, secrets masked."""
        rows: list[tuple[str, str, str, Source]] = []
        for f in fields(self):
            if f.name == "sources":
                continue
            option = OPTIONS_BY_NAME[f.name]
            value: object = getattr(self, f.name)
            if option.secret:
                shown = mask_secret(value if isinstance(value, str) else None)
            elif isinstance(value, tuple):
                shown = os.pathsep.join(str(v) for v in value)  # pyright: ignore[reportUnknownArgumentType]
            else:
                shown = "" if value is None else str(value)
            rows.append((f.name, option.env, shown, self.sources.get(f.name, "default")))
        return rows


def mask_secret(secret: str | None) -> str:
    """Never show any part of a key: only whether one is set."""
    return "(set, hidden)" if secret else "(not set)"


def _spelling(name: str, sources: Mapping[str, Source]) -> str:
    option = OPTIONS_BY_NAME[name]
    return option.flag if sources.get(name) == "flag" else option.env
