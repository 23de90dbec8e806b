"""The model catalog: each provider profile's models, durations, sizes, prices and status, as data.

Models change faster than code (OpenAI retired Sora on 2026-09-24; gateways publish their own tables), so
every rule the server enforces comes from a JSON file validated here: one built-in file per profile, or
the user's own file.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sora_mcp.sizes import Size, SizeError

ProfileName = Literal["openai", "apiyi", "azure"]
BUILTIN_PROFILES: tuple[ProfileName, ...] = ("openai", "apiyi", "azure")

AudioMode = Literal["none", "always", "synchronized"]
ModelStatus = Literal["active", "retired", "unverified"]
SecondsWire = Literal["string", "integer"]


class CatalogError(ValueError):
    """A catalog that cannot be used; the message names the file, the entry and the field."""


class Retirement(BaseModel):
    """When a model stops being served, and where (no hosts: everywhere)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    date: dt.date
    hosts: tuple[str, ...] = ()


class ExtensionLimits(BaseModel):
    """How far `extend` may stitch a video: per step, number of steps, total length."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_step_seconds: int = Field(gt=0)
    max_steps: int = Field(gt=0)
    max_total_seconds: int = Field(gt=0)


class ModelSpec(BaseModel):
    """One model of one provider: everything needed to build a legal request and price it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    deployment: bool = False
    """The id is replaced by the configured deployment name (Azure)."""
    seconds: tuple[int, ...] = Field(min_length=1)
    sizes: tuple[str, ...] = Field(min_length=1)
    default_seconds: int
    default_size: str
    audio: AudioMode
    price_per_second_usd: dict[str, float] | None = None
    status: ModelStatus = "active"
    retirement: Retirement | None = None
    seconds_wire: SecondsWire = "string"
    extension: ExtensionLimits | None = None
    sources: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if any(s <= 0 for s in self.seconds):
            raise ValueError("seconds must all be positive whole numbers")
        if list(self.seconds) != sorted(set(self.seconds)):
            raise ValueError("seconds must be listed in increasing order without repeats")
        for text in self.sizes:
            try:
                Size.parse(text)
            except SizeError as exc:
                raise ValueError(f"sizes: {exc}") from None
            if str(Size.parse(text)) != text:
                raise ValueError(f"sizes: write '{text}' as '{Size.parse(text)}'")
        if len(set(self.sizes)) != len(self.sizes):
            raise ValueError("sizes must not repeat")
        if self.default_seconds not in self.seconds:
            raise ValueError(f"default_seconds {self.default_seconds} is not one of seconds {list(self.seconds)}")
        if self.default_size not in self.sizes:
            raise ValueError(f"default_size '{self.default_size}' is not one of sizes {list(self.sizes)}")
        if self.price_per_second_usd is not None:
            missing = [s for s in self.sizes if s not in self.price_per_second_usd]
            extra = [s for s in self.price_per_second_usd if s not in self.sizes]
            if missing or extra:
                raise ValueError(f"price_per_second_usd must price exactly the sizes; missing {missing}, extra {extra}")
            if any(p < 0 for p in self.price_per_second_usd.values()):
                raise ValueError("price_per_second_usd must not be negative")
        if self.status == "retired" and self.retirement is None:
            raise ValueError("a retired model needs a retirement date")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """The id first, then every alias; all are accepted on the wire."""
        return (self.id, *self.aliases)

    @property
    def frame_sizes(self) -> tuple[Size, ...]:
        return tuple(Size.parse(s) for s in self.sizes)

    @property
    def wire_seconds(self) -> tuple[str, ...]:
        return tuple(str(s) for s in self.seconds)

    def price_per_second(self, size: str) -> float | None:
        if self.price_per_second_usd is None:
            return None
        return self.price_per_second_usd.get(size)

    def cost(self, seconds: int, size: str) -> float | None:
        """Estimated cost in USD, rounded to the cent; None when the catalog has no price."""
        rate = self.price_per_second(size)
        return None if rate is None else round(rate * seconds, 4)

    def allows(self, seconds: int, size: str) -> bool:
        return seconds in self.seconds and size in self.sizes

    def rules_key(self) -> tuple[tuple[int, ...], tuple[str, ...]]:
        """Models with the same key accept exactly the same (seconds, size) pairs."""
        return (self.seconds, tuple(sorted(self.sizes)))


class Catalog(BaseModel):
    """A profile's models. Names (ids and aliases) are unique across the catalog."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    profile: str = Field(min_length=1)
    title: str = ""
    description: str = ""
    models: tuple[ModelSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Catalog:
        seen: dict[str, str] = {}
        for model in self.models:
            for name in model.names:
                if name in seen:
                    raise ValueError(f"model name '{name}' is used by both '{seen[name]}' and '{model.id}'")
                seen[name] = model.id
        return self

    def __iter__(self) -> Iterator[ModelSpec]:  # type: ignore[override]
        return iter(self.models)

    def find(self, name: str) -> ModelSpec | None:
        """The model called `name` (id or alias, case-insensitive), or None."""
        wanted = name.strip().lower()
        for model in self.models:
            if wanted in (n.lower() for n in model.names):
                return model
        return None

    @property
    def model_names(self) -> tuple[str, ...]:
        return tuple(name for model in self.models for name in model.names)

    @property
    def model_ids(self) -> tuple[str, ...]:
        return tuple(model.id for model in self.models)

    def with_deployment(self, deployment: str | None) -> Catalog:
        """Rename deployment-bound models (Azure) to the configured deployment name."""
        if not deployment:
            return self
        renamed: list[ModelSpec] = []
        for model in self.models:
            if model.deployment and model.id != deployment:
                aliases = tuple(a for a in (model.id, *model.aliases) if a != deployment)
                model = model.model_copy(update={"id": deployment, "aliases": aliases})
            renamed.append(model)
        return self.model_copy(update={"models": tuple(renamed)})

    def for_endpoint(self, base_url: str | None, today: dt.date) -> Catalog:
        """Apply retirements that hold for this endpoint on this day.

        OpenAI's retirement applies to OpenAI's own host; a gateway serving the same table is unaffected.
        """
        host = (urlsplit(base_url).hostname or "").lower() if base_url else ""
        updated: list[ModelSpec] = []
        for model in self.models:
            retirement = model.retirement
            if (
                retirement is not None
                and model.status != "retired"
                and today >= retirement.date
                and (not retirement.hosts or host in retirement.hosts)
            ):
                model = model.model_copy(update={"status": "retired"})
            updated.append(model)
        return self.model_copy(update={"models": tuple(updated)})


def _describe_location(data: object, loc: tuple[int | str, ...]) -> str:
    """`models[1] (id 'sora-2-pro'), field 'seconds'` from a pydantic error location."""
    parts: list[str] = []
    if len(loc) >= 2 and loc[0] == "models" and isinstance(loc[1], int):
        entry = f"models[{loc[1]}]"
        models = data.get("models") if isinstance(data, dict) else None
        if isinstance(models, list) and loc[1] < len(models) and isinstance(models[loc[1]], dict):
            model_id = models[loc[1]].get("id")
            if isinstance(model_id, str):
                entry += f" (id '{model_id}')"
        parts.append(entry)
        rest = loc[2:]
    else:
        rest = loc
    field = ".".join(str(p) for p in rest)
    parts.append(f"field '{field}'" if field else "the entry as a whole")
    return ", ".join(parts)


def parse_catalog(text: str, origin: str) -> Catalog:
    """Validate catalog JSON; errors name `origin`, the entry and the field."""
    try:
        data: object = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogError(
            f"catalog {origin}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        locations = [tuple(err["loc"]) for err in errors]
        # A failed entry also fails its container's length check; report only the deepest cause.
        problems = [
            f"{_describe_location(data, loc)}: {err['msg']}"
            for err, loc in zip(errors, locations, strict=True)
            if not any(other != loc and other[: len(loc)] == loc for other in locations)
        ]
        raise CatalogError(f"catalog {origin} is invalid: " + "; ".join(problems)) from None


def load_builtin(profile: str) -> Catalog:
    """One of the profiles shipped with the package."""
    if profile not in BUILTIN_PROFILES:
        raise CatalogError(
            f"unknown profile '{profile}'; built-in profiles are {', '.join(BUILTIN_PROFILES)} "
            "(or point SORA_MCP_CATALOG at a catalog file of your own)"
        )
    text = resources.files("sora_mcp.catalogs").joinpath(f"{profile}.json").read_text(encoding="utf-8")
    return parse_catalog(text, f"built-in profile '{profile}'")


def load_file(path: Path) -> Catalog:
    """A user's catalog file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"catalog file {path} cannot be read: {exc.strerror or exc}") from None
    return parse_catalog(text, f"file {path}")


def active_catalog(
    profile: str,
    catalog_file: Path | None,
    *,
    base_url: str | None,
    azure_deployment: str | None,
    today: dt.date,
) -> Catalog:
    """The catalog the server enforces: a user file if given, else the built-in profile; statuses applied."""
    catalog = load_file(catalog_file) if catalog_file is not None else load_builtin(profile)
    return catalog.with_deployment(azure_deployment).for_endpoint(base_url, today)


def all_known_sizes() -> tuple[str, ...]:
    """Every size any built-in profile knows, for tests and for the loose size vocabulary."""
    sizes = {size for profile in BUILTIN_PROFILES for model in load_builtin(profile) for size in model.sizes}
    return tuple(sorted(sizes, key=lambda s: (Size.parse(s).area, s)))
