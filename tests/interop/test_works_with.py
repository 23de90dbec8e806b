"""The README's "Works with" table is the one generated from the committed interop results."""

from __future__ import annotations

import os

import pytest

from tests.interop import works_with

pytestmark = pytest.mark.skipif(
    os.environ.get("UPDATE_WORKS_WITH") == "1", reason="this run rewrites works_with.json at its end"
)


def test_readme_table_matches_the_committed_results() -> None:
    readme = works_with.README.read_text(encoding="utf-8")
    assert works_with.START in readme and works_with.END in readme, "README.md has no works-with section"
    assert works_with.render_readme(readme, works_with.load()) == readme, (
        "README's works-with table is stale: run `python -m tests.interop.works_with` and commit"
    )


def test_committed_results_name_a_version_and_an_outcome() -> None:
    rows = works_with.load()
    assert rows, "tests/interop/works_with.json is empty: run UPDATE_WORKS_WITH=1 pytest tests/interop"
    assert all(r["version"] and r["result"] in ("works", "fails") for r in rows)
    assert len({(r["client"], r["path"]) for r in rows}) == len(rows)


def test_the_section_follows_the_client_section() -> None:
    readme = works_with.README.read_text(encoding="utf-8")
    client_section = readme.index(works_with.AFTER_SECTION)
    section = readme.index(works_with.HEADING + "\n")
    assert client_section < section < readme.index(works_with.START)
    between = readme[client_section + len(works_with.AFTER_SECTION) : section]
    assert between.count("\n## ") == 0, "another section sits between the client section and Works with"


def test_merge_replaces_observed_paths_in_place() -> None:
    def row(client: str, path: str, result: str) -> works_with.Row:
        return works_with.Row(client=client, version="1", driven="d", path=path, result=result)

    old = [row("a", "p1", "fails"), row("a", "p2", "works"), row("b", "p1", "works")]
    merged = works_with.merge(old, [row("a", "p1", "works"), row("c", "p9", "fails")])
    assert [(r["client"], r["path"], r["result"]) for r in merged] == [
        ("a", "p1", "works"),
        ("a", "p2", "works"),
        ("b", "p1", "works"),
        ("c", "p9", "fails"),
    ]
