"""Where the ledger lives and how it talks to it: an embedded SQLite file, or a PostgreSQL server for replicas.

Both go through SQLAlchemy's asyncio engine (`sqlite+aiosqlite`, `postgresql+psycopg`), so the event loop never
waits on a disk or a socket. What differs is how a write is serialised:

- SQLite: one writer at a time. WAL mode, a busy timeout, `synchronous = FULL` (a committed intent survives a
  power cut), and every write transaction opened with `BEGIN IMMEDIATE` (the write lock from its first
  statement, across processes); writers of one process also queue on an in-process lock instead of spinning
  on the file's.
- PostgreSQL: READ COMMITTED with row locks (`FOR UPDATE`) for read-modify-writes, and a transaction-scoped
  advisory lock per tenant (`pg_advisory_xact_lock`) around admission, so check-then-insert is exact for each
  tenant across every replica while tenants never wait on each other.

Errors of the database become `LedgerUnavailable` with the way out; the URL is only ever shown with its
password hidden, and the password joins the redaction set.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from sora_mcp.jobs.errors import LedgerError, LedgerUnavailable, LedgerVersionError
from sora_mcp.jobs.schema import JOBS, METADATA, POSTGRES_MIGRATIONS, SCHEMA_TABLE, SCHEMA_VERSION, SQLITE_MIGRATIONS

logger = logging.getLogger(__name__)
# aiosqlite logs every hop to its thread at DEBUG (hundreds of lines per job): noise that buries ours and can
# fill the stderr pipe of a host that does not read it. Its warnings and errors still show.
logging.getLogger("aiosqlite").setLevel(logging.WARNING)

LEDGER_FILE = "ledger.sqlite3"
_MODE = "sora_mcp_sqlite_transaction"
"""Execution option for SQLite: 'write' begins IMMEDIATE, 'single' (one statement) begins nothing, else BEGIN."""
_MIGRATION_LOCK = 0x50_52_41_4D_43_50  # any fixed 64-bit number: the advisory lock held while migrating


@dataclass(frozen=True)
class Location:
    """Where the ledger is: a SQLite file (the embedded default) or a PostgreSQL database."""

    url: sa.URL

    @classmethod
    def resolve(cls, database_url: str | None, home: Path) -> Location:
        """`database_url` (SORA_MCP_DATABASE_URL: `postgresql://…`, `sqlite:///path`), else `<home>/ledger.sqlite3`."""
        if not database_url:
            return cls.sqlite(home / LEDGER_FILE)
        url = sa.make_url(database_url)
        if url.get_backend_name() == "sqlite":
            if not url.database:
                raise ValueError("a sqlite URL needs a file path, e.g. sqlite:////var/lib/sora-mcp/ledger.sqlite3")
            return cls.sqlite(Path(url.database).expanduser())
        if url.get_backend_name() in ("postgresql", "postgres"):
            return cls(url.set(drivername="postgresql+psycopg"))
        raise ValueError(f"'{url.drivername}' is not a supported database; use postgresql://… or sqlite:///…")

    @classmethod
    def sqlite(cls, path: Path | str) -> Location:
        return cls(sa.URL.create("sqlite+aiosqlite", database=str(path)))

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None for a server database."""
        return Path(self.url.database or "") if self.is_sqlite else None

    @property
    def shown(self) -> str:
        """How the ledger is named in messages: the file, or the URL with its password hidden."""
        if self.path is not None:
            return str(self.path)
        return self.url.set(drivername="postgresql").render_as_string(hide_password=True)


def tenant_lock_key(tenant: str) -> int:
    """A stable signed 64-bit advisory-lock key for a tenant (PostgreSQL's `pg_advisory_xact_lock(bigint)`)."""
    return int.from_bytes(hashlib.sha256(b"sora-mcp-tenant:" + tenant.encode()).digest()[:8], "big", signed=True)


class Database:
    """The engine for one `Location`, opened (and migrated) on first use, with read and write transactions.

    Every transaction (and opening, and closing) runs shielded from cancellation, bounded by the busy timeout on
    SQLite and the pool timeout on PostgreSQL. A call cancelled mid-statement (a client's cancel, a wait's
    deadline, the server shutting down) otherwise makes SQLAlchemy terminate the connection from a task of its
    own, and with aiosqlite that task can wait forever for a worker thread that is already gone (seen as a hang
    at event-loop shutdown). A ledger operation is short: it finishes, and the cancellation takes effect after.
    """

    def __init__(self, location: Location, *, busy_timeout_s: float = 5.0) -> None:
        self.location = location
        self._busy_timeout_s = busy_timeout_s
        self._engine: AsyncEngine | None = None
        self._ready = False
        self._opening = anyio.Lock()
        self._writer = anyio.Lock()  # SQLite only: one writer of this process at a time
        self._closed = False
        if location.url.password:
            from sora_mcp import redaction

            redaction.install([str(location.url.password)])

    # -- engine ----------------------------------------------------------------------------------------------

    def _create_engine(self) -> AsyncEngine:
        if not self.location.is_sqlite:
            return create_async_engine(self.location.url, pool_size=5, max_overflow=15, pool_timeout=30)
        # Every transaction is ended explicitly, so the pool's reset-on-return rollback would be one more wasted
        # round trip to aiosqlite's thread per call.
        engine = create_async_engine(
            self.location.url, connect_args={"timeout": self._busy_timeout_s}, pool_reset_on_return=None
        )
        timeout_ms = int(self._busy_timeout_s * 1000)
        busy_timeout_s = self._busy_timeout_s

        @event.listens_for(engine.sync_engine, "connect")
        def _configure(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # transactions are begun by `_begin` below, never implicitly
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
                cursor.execute("PRAGMA synchronous = FULL")
                _enable_wal(cursor, busy_timeout_s)
            finally:
                cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            mode = conn.get_execution_options().get(_MODE)
            if mode == "write":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif mode != "single":  # one SELECT is its own consistent snapshot: no BEGIN needed
                conn.exec_driver_sql("BEGIN")

        return engine

    def _engine_or_create(self) -> AsyncEngine:
        if self._closed:
            raise LedgerError(f"the job ledger {self.location.shown} is closed")
        if self._engine is None:
            self._engine = self._create_engine()
        return self._engine

    async def _open(self) -> AsyncEngine:
        engine = self._engine_or_create()
        if self._ready:
            return engine
        async with self._opening:
            if not self._ready:
                with self._translated():
                    path = self.location.path
                    if path is not None:
                        path.parent.mkdir(parents=True, exist_ok=True)
                        await self._migrate_sqlite(engine)
                    else:
                        await self._migrate_postgres(engine)
                self._ready = True
        return engine

    async def close(self) -> None:
        """Dispose of the connections; a closed database refuses work."""
        self._closed = True
        engine, self._engine = self._engine, None
        if engine is not None:
            with anyio.CancelScope(shield=True):
                await engine.dispose()

    # -- transactions ------------------------------------------------------------------------------------------

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for one read statement (its own consistent snapshot; on SQLite without a BEGIN, which
        would cost one more round trip to the driver's thread)."""
        with anyio.CancelScope(shield=True):  # see the class docstring
            engine = await self._open()
            with self._translated():
                async with engine.connect() as conn:
                    if self.location.is_sqlite:
                        await conn.execution_options(**{_MODE: "single"})
                    async with conn.begin():
                        yield conn

    @asynccontextmanager
    async def write(self, tenant: str | None = None) -> AsyncIterator[AsyncConnection]:
        """One read-modify-write transaction; with `tenant`, serialised against every other one of that tenant
        (admission). On SQLite every write is serialised anyway."""
        with anyio.CancelScope(shield=True):  # see the class docstring
            engine = await self._open()
            if self.location.is_sqlite:
                async with self._writer:
                    with self._translated():
                        async with engine.connect() as conn:
                            await conn.execution_options(**{_MODE: "write"})
                            async with conn.begin():
                                yield conn
                return
            with self._translated():
                async with engine.connect() as conn, conn.begin():
                    if tenant is not None:
                        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(tenant_lock_key(tenant))))
                    yield conn

    # -- migrations --------------------------------------------------------------------------------------------

    async def _migrate_sqlite(self, engine: AsyncEngine) -> None:
        """Bring the file to `SCHEMA_VERSION` in one immediate transaction (safe when processes start together)."""
        async with engine.connect() as conn:
            await conn.execution_options(**{_MODE: "write"})
            async with conn.begin():
                found = int((await conn.exec_driver_sql("PRAGMA user_version")).scalar_one())
                self._check_version(found)
                for version in range(found, SCHEMA_VERSION):
                    for statement in SQLITE_MIGRATIONS[version]:
                        await conn.exec_driver_sql(statement)
                    logger.info("job ledger migrated to schema v%d", version + 1)
                if found != SCHEMA_VERSION:
                    await conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")

    async def _migrate_postgres(self, engine: AsyncEngine) -> None:
        """Create or upgrade the schema under an advisory lock, so replicas starting together migrate once."""
        async with engine.connect() as conn, conn.begin():
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            await conn.run_sync(lambda sync: SCHEMA_TABLE.create(sync, checkfirst=True))
            found = (await conn.execute(sa.select(SCHEMA_TABLE.c.version))).scalar()
            if found is None:
                await conn.run_sync(lambda sync: METADATA.create_all(sync, tables=[JOBS]))
                await conn.execute(sa.insert(SCHEMA_TABLE).values(version=SCHEMA_VERSION))
                logger.info("job ledger created in %s at schema v%d", self.location.shown, SCHEMA_VERSION)
                return
            self._check_version(int(found))
            for version in range(int(found), SCHEMA_VERSION):
                for statement in POSTGRES_MIGRATIONS[version]:
                    await conn.exec_driver_sql(statement)
            if found != SCHEMA_VERSION:
                await conn.execute(sa.update(SCHEMA_TABLE).values(version=SCHEMA_VERSION))

    def _check_version(self, found: int) -> None:
        if found > SCHEMA_VERSION:
            where = (
                "SORA_MCP_HOME at another directory" if self.location.is_sqlite else "SORA_MCP_DATABASE_URL elsewhere"
            )
            raise LedgerVersionError(
                f"the job ledger uses schema v{found} but this sora-mcp knows only up to v{SCHEMA_VERSION}; "
                f"upgrade sora-mcp, or point {where}"
            )

    # -- errors ------------------------------------------------------------------------------------------------

    def _translated(self) -> _Translate:
        return _Translate(self)

    def unavailable(self, exc: BaseException) -> LedgerUnavailable:
        """The database error `exc` as the reason the ledger cannot be used, with the way out."""
        reason = str(getattr(exc, "orig", None) or exc)
        password = self.location.url.password
        if password:
            reason = reason.replace(str(password), "***")
        text = reason.lower()
        shown = self.location.shown
        path = self.location.path
        if path is None:
            return LedgerUnavailable(
                f"The job database {shown} cannot be used: {reason.strip()}. Check that the PostgreSQL server is "
                "running and reachable and that SORA_MCP_DATABASE_URL names its user and database."
            )
        if "locked" in text or "busy" in text:
            return LedgerUnavailable(
                f"The job ledger {path} is busy (another sora-mcp process?); it stayed locked for "
                f"{self._busy_timeout_s:g} s. Try again in a moment; if no other sora-mcp runs, a crashed process may "
                "still hold it."
            )
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return LedgerUnavailable(
                f"The job ledger {path} is damaged ({reason}). It was left as it is. To recover, move it aside "
                f"(e.g. `mv {path} {path}.broken`): sora-mcp then starts a new ledger, and jobs still at the "
                "provider can be found with list_videos refresh=true."
            )
        return LedgerUnavailable(
            f"The job ledger {path} cannot be used: {reason}. Check that SORA_MCP_HOME ({path.parent}) is a "
            "writable local directory, or point SORA_MCP_HOME elsewhere."
        )


class _Translate:
    """Turns database and file-system errors (not integrity errors: those are the caller's) into
    `LedgerUnavailable`."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        if exc is None or isinstance(exc, LedgerError | sa.exc.IntegrityError | sqlite3.IntegrityError):
            return
        if isinstance(exc, sa.exc.DBAPIError | sa.exc.TimeoutError | sqlite3.Error | OSError):
            raise self.database.unavailable(exc) from exc


def _enable_wal(cursor: Any, busy_timeout_s: float) -> None:
    """Switch to WAL; several processes opening a fresh file together may see it locked for a moment."""
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            mode = str(cursor.fetchone()[0]).lower()
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    if mode != "wal":
        raise LedgerError(f"the job ledger cannot use WAL mode (got '{mode}'); use a local disk")
