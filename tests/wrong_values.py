"""The seed articles' table of common wrong durations (contract doc §4), shared by the in-process and stdio tests.

Each row: (model, wanted seconds, the legal values the table says to change to). An empty tuple means the
wish is already legal.
"""

from __future__ import annotations

WRONG_VALUES: tuple[tuple[str, int, tuple[int, ...]], ...] = (
    ("sora-2", 5, (4, 8)),
    ("sora-2", 6, (8,)),
    ("sora-2", 10, (8, 12)),
    ("sora-2", 15, (12,)),
    ("sora-2", 20, (12,)),
    ("sora-2", 30, (12,)),
    ("sora-2-pro", 5, (10,)),
    ("sora-2-pro", 6, (10,)),
    ("sora-2-pro", 10, ()),
    ("sora-2-pro", 15, ()),
    ("sora-2-pro", 20, (15, 25)),
    ("sora-2-pro", 30, (25,)),
)
LEGAL = {"sora-2": (4, 8, 12), "sora-2-pro": (10, 15, 25)}


def expected_message(model: str, wanted: int) -> str:
    legal = LEGAL[model]
    listed = ", ".join(f"'{s}'" for s in legal[:-1]) + f", and '{legal[-1]}'"
    return f"Invalid value: '{wanted}'. Supported values are: {listed}."


def check_row(structured: dict[str, object], model: str, wanted: int, fixes: tuple[int, ...]) -> None:
    """Assert one verdict reproduces one row of the table."""
    request = structured["request"]
    assert isinstance(request, dict)
    if not fixes:
        assert structured["valid"] is True
        assert structured.get("errors") == []
        assert request["seconds"] == wanted
        return
    assert structured["valid"] is False
    errors = structured["errors"]
    assert isinstance(errors, list)
    assert errors[0] == {
        "message": expected_message(model, wanted),
        "type": "invalid_request_error",
        "param": "seconds",
        "code": "invalid_value",
    }
    assert request["model"] == model
    assert request["seconds"] in fixes
    neighbours = structured["seconds_neighbours"]
    assert isinstance(neighbours, dict)
    offered = {v for v in (neighbours.get("below"), neighbours.get("above")) if v is not None}
    if len(fixes) == 2:
        assert offered == set(fixes)
    else:
        assert fixes[0] in offered
