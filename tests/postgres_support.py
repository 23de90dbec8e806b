"""A throwaway PostgreSQL cluster for the tests: initdb into a temporary folder, pg_ctl on a free loopback port.

Found from `pg_config --bindir`, `PATH` or Debian's `/usr/lib/postgresql/<version>/bin` (CI installs Debian's
`postgresql` package). initdb refuses to run as root, so as root the cluster belongs to the `postgres` system
user (`runuser -u postgres --`). Each test gets a database of its own (`database_url`). Without PostgreSQL the
tests that need it are skipped with the reason, never silently.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SKIP_REASON = (
    "PostgreSQL is not installed (no initdb in `pg_config --bindir`, PATH or /usr/lib/postgresql/*/bin): "
    "install Debian's `postgresql` package (.ci/run does) to run the PostgreSQL half of the ledger tests"
)


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl, or None."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if found:
            candidates.append(Path(found))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    return next((c for c in candidates if (c / "initdb").is_file() and (c / "pg_ctl").is_file()), None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """A running server; `url(db)` names a database in it (user `postgres`, trust authentication on loopback)."""

    bindir: Path
    datadir: Path
    port: int
    as_user: tuple[str, ...]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.encode())

    def create_database(self) -> str:
        name = "t_" + uuid.uuid4().hex[:16]
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start_cluster(bindir: Path) -> Cluster:
    """initdb + pg_ctl start on a free 127.0.0.1 port, owned by `postgres` when we are root."""
    root = Path(tempfile.mkdtemp(prefix="sora-mcp-pg-"))
    datadir = root / "data"
    as_user: tuple[str, ...] = ()
    if os.geteuid() == 0:
        as_user = ("runuser", "-u", "postgres", "--")
        shutil.chown(root, "postgres", "postgres")
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "-A", "trust", "-E", "UTF8"],
        capture_output=True,
        check=True,
        cwd=root,
    )
    port = _free_port()
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{root}' -c fsync=off"
    subprocess.run(
        [*as_user, str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(root / "log"), "-o", options, "-w", "start"],
        capture_output=True,
        check=True,
        cwd=root,
    )
    return Cluster(bindir=bindir, datadir=datadir, port=port, as_user=as_user)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(SKIP_REASON)
    try:
        cluster = start_cluster(bindir)
    except subprocess.CalledProcessError as exc:  # installed but broken: a failure to see, not a skip
        pytest.fail(f"PostgreSQL at {bindir} could not start a test cluster: {exc.stderr!r}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> Iterator[str]:
    """A fresh, empty database for one test."""
    name = postgres_cluster.create_database()
    try:
        yield postgres_cluster.url(name)
    finally:
        postgres_cluster.drop_database(name)
