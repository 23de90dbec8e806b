"""Fixtures of the interop tests: the server command, provisioned clients, and the works-with recorder."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop import support, works_with

_UPDATE = os.environ.get("UPDATE_WORKS_WITH") == "1"


class Recorder:
    """Collects one works-with row per (client, path) a test checked, with the outcome it observed."""

    def __init__(self) -> None:
        self.rows: list[works_with.Row] = []

    @contextlib.contextmanager
    def check(self, client: str, version: str, driven: str, path: str) -> Iterator[None]:
        """Record `works` when the block passes, `fails` when it raises (and let the failure through)."""
        try:
            yield
        except BaseException:
            self._add(client, version, driven, path, "fails")
            raise
        self._add(client, version, driven, path, "works")

    def _add(self, client: str, version: str, driven: str, path: str, result: str) -> None:
        self.rows = [r for r in self.rows if (r["client"], r["path"]) != (client, path)]
        self.rows.append(works_with.Row(client=client, version=version, driven=driven, path=path, result=result))


@pytest.fixture(scope="session")
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    yield rec
    if not rec.rows:
        return
    support.CACHE.mkdir(parents=True, exist_ok=True)
    (support.CACHE / "works-with-last-run.json").write_text(json.dumps(rec.rows, indent=1) + "\n")
    if _UPDATE:
        works_with.save(works_with.merge(works_with.load(), rec.rows))


@pytest.fixture(scope="session")
def sora_mcp() -> str:
    return support.sora_mcp_command()


@pytest.fixture(scope="session")
def node_modules() -> Path:
    return support.node_modules()


@pytest.fixture
def client_home(tmp_path: Path) -> Path:
    """A fresh home for the server processes of one test (ledger, outputs, images)."""
    home = tmp_path / "client-home"
    home.mkdir()
    return home
