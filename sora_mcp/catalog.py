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

ProfileName = Literal["openai", "apiyi", "azure", "openrouter", "apiyi-veo"]
BUILTIN_PROFILES: tuple[ProfileName, ...] = ("openai", "apiyi", "azure", "openrouter", "apiyi-veo")
LISTING_PROFILES: dict[str, str] = {"openrouter": "openrouter-listing-2026-10-09.json"}
"""Built-in profiles loaded from a provider's model listing snapshot (one source of truth, see listing.py)."""

AudioMode = Literal["none", "always", "synchronized", "optional"]
"""`optional`: the request may ask for audio or not (OpenRouter's `generate_audio`); off unless asked."""
ModelStatus = Literal["active", "retired", "unverified"]
SecondsWire = Literal["string", "integer"]
DurationParam = Literal["seconds", "duration"]
FrameImage = Literal["first_frame", "last_frame"]
Dialect = Literal["openai", "openrouter", "new-api"]
Rectangle = tuple[tuple[int, ...], tuple[str, ...]]
"""A set of (seconds, size) pairs written as every duration of the first element times every size of the second."""


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


class Combination(BaseModel):
    """One rectangle of legal requests: every duration here with every size here."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seconds: tuple[int, ...] = Field(min_length=1)
    sizes: tuple[str, ...] = Field(min_length=1)


class Frame(BaseModel):
    """How one size is spelled by dialects that send `resolution` + `aspect_ratio` instead of `size`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resolution: str = Field(min_length=1)
    aspect_ratio: str = Field(min_length=1)


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
    duration_param: DurationParam = "seconds"
    """The wire name of the length field (`duration` on OpenRouter)."""
    combinations: tuple[Combination, ...] = ()
    """Empty: every (seconds, size) pair is legal. Otherwise exactly the union of these rectangles is."""
    frames: dict[str, Frame] = {}
    """Keyed by size; empty for models addressed by `size` on the wire."""
    frame_images: tuple[FrameImage, ...] = ("first_frame",)
    seed: bool = False
    price_per_request_usd: float | None = None
    """A flat price per video, whatever its length and size (APIYI's Veo channel)."""
    price_per_second_with_audio_usd: dict[str, float] | None = None
    """By size, used when audio is asked for (audio `optional`); else `price_per_second_usd` applies."""
    price_note: str | None = None
    """Why there is no price, or what it leaves out (e.g. priced per token)."""
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
        for name, prices in (
            ("price_per_second_usd", self.price_per_second_usd),
            ("price_per_second_with_audio_usd", self.price_per_second_with_audio_usd),
        ):
            if prices is None:
                continue
            missing = [s for s in self.sizes if s not in prices]
            extra = [s for s in prices if s not in self.sizes]
            if missing or extra:
                raise ValueError(f"{name} must price exactly the sizes; missing {missing}, extra {extra}")
            if any(p < 0 for p in prices.values()):
                raise ValueError(f"{name} must not be negative")
        if self.price_per_request_usd is not None and self.price_per_request_usd < 0:
            raise ValueError("price_per_request_usd must not be negative")
        if self.price_per_second_with_audio_usd is not None and self.audio != "optional":
            raise ValueError("price_per_second_with_audio_usd needs audio 'optional' (otherwise one price applies)")
        self._check_combinations()
        self._check_frames()
        if len(set(self.frame_images)) != len(self.frame_images):
            raise ValueError("frame_images must not repeat")
        if "last_frame" in self.frame_images and "first_frame" not in self.frame_images:
            raise ValueError("frame_images: a last_frame needs a first_frame as well")
        if self.status == "retired" and self.retirement is None:
            raise ValueError("a retired model needs a retirement date")
        return self

    def _check_combinations(self) -> None:
        if not self.combinations:
            return
        for index, combo in enumerate(self.combinations):
            odd_seconds = [s for s in combo.seconds if s not in self.seconds]
            odd_sizes = [s for s in combo.sizes if s not in self.sizes]
            if odd_seconds or odd_sizes:
                raise ValueError(
                    f"combinations[{index}] must be a subset of the model's seconds and sizes; "
                    f"unknown seconds {odd_seconds}, unknown sizes {odd_sizes}"
                )
            if len(set(combo.seconds)) != len(combo.seconds) or len(set(combo.sizes)) != len(combo.sizes):
                raise ValueError(f"combinations[{index}] must not repeat a duration or a size")
        unused_seconds = [s for s in self.seconds if not any(s in c.seconds for c in self.combinations)]
        unused_sizes = [s for s in self.sizes if not any(s in c.sizes for c in self.combinations)]
        if unused_seconds or unused_sizes:
            raise ValueError(
                f"combinations leave seconds {unused_seconds} and sizes {unused_sizes} without any legal request; "
                "remove them from seconds/sizes or add them to a combination"
            )
        if not self.allows(self.default_seconds, self.default_size):
            raise ValueError(
                f"the default request ({self.default_seconds} s, {self.default_size}) is not in any combination"
            )

    def _check_frames(self) -> None:
        if not self.frames:
            return
        extra = [s for s in self.frames if s not in self.sizes]
        missing = [s for s in self.sizes if s not in self.frames]
        if extra or missing:
            raise ValueError(
                f"frames must spell every size or none (none: the size is sent as is); missing {missing}, extra {extra}"
            )
        spelled: dict[tuple[str, str], str] = {}
        for size, frame in self.frames.items():
            key = (frame.resolution, frame.aspect_ratio)
            if key in spelled:
                raise ValueError(f"frames: sizes '{spelled[key]}' and '{size}' are both {key[0]} {key[1]}")
            spelled[key] = size

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

    def cost(self, seconds: int, size: str, audio: bool = False) -> float | None:
        """Estimated cost in USD, rounded to 4 places; None when the catalog has no price.

        A flat per-request price wins; with `audio` on, the with-audio rate applies where the catalog has one.
        """
        if self.price_per_request_usd is not None:
            return round(self.price_per_request_usd, 4)
        rate = None
        if audio and self.price_per_second_with_audio_usd is not None:
            rate = self.price_per_second_with_audio_usd.get(size)
        if rate is None:
            rate = self.price_per_second(size)
        return None if rate is None else round(rate * seconds, 4)

    def allows(self, seconds: int, size: str) -> bool:
        if seconds not in self.seconds or size not in self.sizes:
            return False
        return not self.combinations or any(seconds in c.seconds and size in c.sizes for c in self.combinations)

    def rectangles(self) -> tuple[Rectangle, ...]:
        """The legal requests as rectangles (seconds in increasing order, sizes as listed by the model)."""
        if not self.combinations:
            return ((self.seconds, self.sizes),)
        return tuple(
            (
                tuple(s for s in self.seconds if s in c.seconds),
                tuple(s for s in self.sizes if s in c.sizes),
            )
            for c in self.combinations
        )

    def frame(self, size: str) -> Frame | None:
        """`size` as resolution + aspect ratio, for dialects that send those; None when the size is sent as is."""
        return self.frames.get(size)

    @property
    def audio_optional(self) -> bool:
        return self.audio == "optional"

    @property
    def last_frame(self) -> bool:
        return "last_frame" in self.frame_images

    def rules_key(self) -> tuple[object, ...]:
        """Models with the same key accept exactly the same requests, options included."""
        rectangles = tuple(sorted((secs, tuple(sorted(sizes))) for secs, sizes in self.rectangles()))
        return (rectangles, self.audio_optional, self.seed, self.last_frame)


class ListedModel(BaseModel):
    """A model the provider lists but that cannot be requested (e.g. its listing gives no durations)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    sources: tuple[str, ...] = ()


class Catalog(BaseModel):
    """A profile's models. Names (ids and aliases) are unique across the catalog."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    profile: str = Field(min_length=1)
    title: str = ""
    description: str = ""
    dialect: Dialect = "openai"
    """The wire format the provider speaks."""
    source: str | None = None
    """Where the table comes from, e.g. 'OpenRouter listing fetched 2026-10-09T20:02:55Z'."""
    fetched_at: dt.datetime | None = None
    """When a listing-built catalog was read from the provider."""
    models: tuple[ModelSpec, ...] = Field(min_length=1)
    listed_only: tuple[ListedModel, ...] = ()
    """Listed by the provider, not creatable here; each with the reason. Not in any schema."""
    warnings: tuple[str, ...] = ()
    """What building the catalog skipped or could not express (a malformed listing entry, a price in tokens)."""

    @model_validator(mode="after")
    def _unique_names(self) -> Catalog:
        seen: dict[str, str] = {}
        for model in self.models:
            for name in model.names:
                if name in seen:
                    raise ValueError(f"model name '{name}' is used by both '{seen[name]}' and '{model.id}'")
                seen[name] = model.id
        for listed in self.listed_only:
            if listed.id in seen:
                raise ValueError(f"model '{listed.id}' is both creatable and listed_only")
        if self.dialect == "new-api":
            unspelled = [m.id for m in self.models if not m.frames]
            if unspelled:
                raise ValueError(
                    f"dialect new-api sends resolution + aspect ratio; give frames for every size of {unspelled}"
                )
        return self

    def find_listed(self, name: str) -> ListedModel | None:
        """A model listed but not creatable, by id (case-insensitive)."""
        wanted = name.strip().lower()
        return next((m for m in self.listed_only if m.id.lower() == wanted), None)

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
    """Validate catalog JSON, or build one from a model listing; errors name `origin`, the entry and the field."""
    try:
        data: object = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogError(
            f"catalog {origin}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    from sora_mcp import listing

    if listing.is_listing(data):
        return listing.catalog_from_listing_data(data, origin)
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
    if profile in LISTING_PROFILES:
        name = LISTING_PROFILES[profile]
        text = resources.files("sora_mcp.catalogs").joinpath(name).read_text(encoding="utf-8")
        return parse_catalog(text, f"built-in profile '{profile}' ({name})")
    text = resources.files("sora_mcp.catalogs").joinpath(f"{profile}.json").read_text(encoding="utf-8")
    return parse_catalog(text, f"built-in profile '{profile}'")


def load_file(path: Path) -> Catalog:
    """A user's catalog file: the catalog format, or a provider's model listing (`{"data": [...]}`)."""
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
