"""create_video's schema admits exactly the catalog's legal requests, options included, for every shipped
profile and a generated listing: every model x duration x size x option, plus the illegal neighbours.

The oracle is the catalog itself (`ModelSpec.allows` and the model's option flags); the schema is checked
with jsonschema's Draft 2020-12 validator, as a client would.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import jsonschema
import pytest

from sora_mcp.catalog import BUILTIN_PROFILES, Catalog, ModelSpec, active_catalog
from sora_mcp.listing import catalog_from_listing
from sora_mcp.request_schema import SEED_MAX, create_video_schema
from tests.test_listing import generated_listing

TODAY = dt.date(2026, 12, 1)
ABSENT = object()
AUDIO = (True, False, ABSENT)
SEED = (7, ABSENT)
LAST_FRAME = ("/tmp/last.png", ABSENT)


def _catalog(name: str) -> Catalog:
    if name == "listing-fixture":
        return catalog_from_listing(generated_listing(24), fetched_at=None, source="generated listing")
    return active_catalog(name, None, base_url=None, azure_deployment=None, today=TODAY)


CATALOGS = (*BUILTIN_PROFILES, "listing-fixture")


@dataclass
class Counts:
    legal: int = 0
    illegal: int = 0


def _video(name: str, seconds: int, size: str, audio: object, seed: object, last_frame: object) -> dict[str, object]:
    video: dict[str, object] = {"model": name, "seconds": str(seconds), "size": size}
    for key, value in (("audio", audio), ("seed", seed), ("last_frame", last_frame)):
        if value is not ABSENT:
            video[key] = value
    return video


def _oracle(model: ModelSpec | None, seconds: int, size: str, audio: object, seed: object, last: object) -> bool:
    if model is None or not model.allows(seconds, size):
        return False
    if audio is not ABSENT and not model.audio_optional:
        return False
    if seed is not ABSENT and not model.seed:
        return False
    return last is ABSENT or model.last_frame


def _neighbour_seconds(catalog: Catalog) -> list[int]:
    every = {s for m in catalog for s in m.seconds}
    return sorted(every | {0, min(every) - 1, max(every) + 1} | {s + 1 for s in every} | {s - 1 for s in every})


def _neighbour_sizes(catalog: Catalog) -> list[str]:
    every = {s for m in catalog for s in m.sizes}
    flipped = {"x".join(reversed(s.split("x"))) for s in every}
    return sorted(every | flipped | {"1280x721", "1792x1024", "640x480"})


def _cases(catalog: Catalog) -> Iterator[tuple[dict[str, object], bool]]:
    """(video, legal) for every model x duration x size x option, then every neighbour with options absent."""
    options = list(itertools.product(AUDIO, SEED, LAST_FRAME))
    for model in catalog:
        for name in model.names:
            for seconds, size in itertools.product(model.seconds, model.sizes):
                for audio, seed, last in options:
                    yield (
                        _video(name, seconds, size, audio, seed, last),
                        _oracle(model, seconds, size, audio, seed, last),
                    )
    # Changing one coordinate of a legal request: the model's durations with every size anyone knows (and
    # odd ones), every duration with the model's sizes. A request with both a foreign duration and a foreign
    # size fails every branch of its model on the duration alone, so one such request per model suffices.
    seconds_axis, sizes_axis = _neighbour_seconds(catalog), _neighbour_sizes(catalog)
    for model in catalog:
        pairs = {*itertools.product(model.seconds, sizes_axis), *itertools.product(seconds_axis, model.sizes)}
        pairs.add((max(seconds_axis) + 7, "4321x1234"))
        for seconds, size in sorted(pairs):
            yield _video(model.id, seconds, size, ABSENT, ABSENT, ABSENT), model.allows(seconds, size)
    strangers = ["", "SORA-2", "sora-1-turbo", *(m.id.upper() for m in catalog if m.id.upper() != m.id)]
    for name in strangers:
        model = catalog.models[0]
        found = catalog.find(name) if name in catalog.model_names else None
        yield _video(name, model.default_seconds, model.default_size, ABSENT, ABSENT, ABSENT), found is not None


def _check(catalog: Catalog) -> Counts:
    schema = create_video_schema(catalog)
    validator = jsonschema.Draft202012Validator(schema)
    first = catalog.models[0]
    assert validator.is_valid(
        {
            "prompt": "a cat",
            "video": _video(first.id, first.default_seconds, first.default_size, ABSENT, ABSENT, ABSENT),
        }
    )
    assert not validator.is_valid(
        {"prompt": "", "video": _video(first.id, first.default_seconds, first.default_size, ABSENT, ABSENT, ABSENT)}
    )
    # The `video` property's own schema, exactly as published (the prompt is checked once above).
    video_validator = jsonschema.Draft202012Validator(schema["properties"]["video"])
    counts = Counts()
    for video, legal in _cases(catalog):
        assert video_validator.is_valid(video) == legal, (catalog.profile, video, legal)
        if legal:
            counts.legal += 1
        else:
            counts.illegal += 1
    return counts


def _legal_requests(catalog: Catalog) -> int:
    """How many distinct legal (name, seconds, size, options) requests the catalog allows."""
    total = 0
    for model in catalog:
        pairs = sum(len(secs) * len(sizes) for secs, sizes in model.rectangles())
        option_ways = (3 if model.audio_optional else 1) * (2 if model.seed else 1) * (2 if model.last_frame else 1)
        total += len(model.names) * pairs * option_ways
    return total


@pytest.mark.parametrize("name", CATALOGS)
def test_the_schema_admits_exactly_the_catalogs_requests(name: str) -> None:
    catalog = _catalog(name)
    counts = _check(catalog)
    # Every legal request appears once in the option matrix and once more (options absent) among the neighbours.
    once_more = sum(sum(len(secs) * len(sizes) for secs, sizes in m.rectangles()) for m in catalog)
    assert counts.legal == _legal_requests(catalog) + once_more
    assert counts.illegal > counts.legal // 4, "the neighbours must include illegal requests"


@pytest.mark.parametrize("name", ["openrouter", "apiyi-veo", "listing-fixture"])
def test_cross_constraints_and_option_values(name: str) -> None:
    catalog = _catalog(name)
    validator = jsonschema.Draft202012Validator(create_video_schema(catalog))
    for model in catalog:
        seconds, size = model.default_seconds, model.default_size
        base: dict[str, object] = {"model": model.id, "seconds": str(seconds), "size": size}

        def valid(video: dict[str, object]) -> bool:
            return validator.is_valid({"prompt": "p", "video": video})

        assert valid(base), model.id
        assert not valid({**base, "seconds": seconds}), "seconds must be a string on the schema"
        assert not valid({**base, "audio": "true"}) and not valid({**base, "seed": "7"})
        assert not valid({**base, "generate_audio": True}) and not valid({**base, "duration": str(seconds)})
        if model.seed:
            assert valid({**base, "seed": 0}) and valid({**base, "seed": SEED_MAX})
            assert not valid({**base, "seed": -1}) and not valid({**base, "seed": SEED_MAX + 1})
            assert not valid({**base, "seed": 1.5})
        if model.last_frame:
            assert not valid({**base, "last_frame": 3})


def test_veo_on_apiyi_allows_1080p_and_4k_only_at_8_seconds() -> None:
    catalog = _catalog("apiyi-veo")
    validator = jsonschema.Draft202012Validator(create_video_schema(catalog))
    for model in catalog:
        for seconds, size in itertools.product((4, 6, 8), model.sizes):
            legal = seconds == 8 or size in ("1280x720", "720x1280")
            video = {"model": model.id, "seconds": str(seconds), "size": size}
            assert validator.is_valid({"prompt": "p", "video": video}) == legal, video
            assert model.allows(seconds, size) == legal
