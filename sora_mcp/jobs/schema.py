"""The ledger's one table, `jobs`, on SQLite and PostgreSQL, and how each database reaches the current schema.

SQLite files in the wild were created by earlier versions, so SQLite upgrades step by step through
`SQLITE_MIGRATIONS` (`PRAGMA user_version` is the number applied; append, never edit). PostgreSQL support
began at v3: a new database is created from `JOBS` (the SQLAlchemy table the queries use) at the current
version, recorded in `sora_mcp_schema`; later versions append an upgrade to both lists.
"""

from __future__ import annotations

import sqlalchemy as sa

SQLITE_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE jobs (
            local_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('create', 'remix', 'extend', 'edit')),
            parent_video_id TEXT,
            video_id TEXT UNIQUE,
            backend TEXT NOT NULL,
            base_url TEXT,
            profile TEXT NOT NULL,
            model TEXT NOT NULL,
            seconds INTEGER NOT NULL CHECK (seconds > 0),
            size TEXT NOT NULL,
            prompt TEXT NOT NULL,
            reference_path TEXT,
            reference_sha256 TEXT,
            request_fingerprint TEXT NOT NULL,
            estimated_cost_micros INTEGER CHECK (estimated_cost_micros >= 0),
            final_cost_micros INTEGER CHECK (final_cost_micros >= 0),
            status TEXT NOT NULL CHECK (status IN ('creating', 'queued', 'in_progress', 'completed', 'failed',
                                                   'create_failed', 'expired', 'deleted')),
            progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
            error_code TEXT,
            error_message TEXT,
            video_path TEXT,
            thumbnail_path TEXT,
            spritesheet_path TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            completed_at REAL,
            downloaded_at REAL,
            expires_at REAL,
            day TEXT NOT NULL,
            last_retrieve_at REAL
        )
        """,
        "CREATE INDEX jobs_by_day ON jobs (day, status)",
        "CREATE INDEX jobs_by_status ON jobs (status, created_at)",
        "CREATE INDEX jobs_by_created ON jobs (created_at)",
        "CREATE INDEX jobs_by_fingerprint ON jobs (request_fingerprint)",
    ),
    (
        # v2: the `unknown` status (a create whose answer was lost and could not be reconciled yet) and the
        # client's idempotency key. SQLite cannot change a CHECK constraint in place, hence the copy.
        """
        CREATE TABLE jobs_v2 (
            local_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('create', 'remix', 'extend', 'edit')),
            parent_video_id TEXT,
            video_id TEXT UNIQUE,
            backend TEXT NOT NULL,
            base_url TEXT,
            profile TEXT NOT NULL,
            model TEXT NOT NULL,
            seconds INTEGER NOT NULL CHECK (seconds > 0),
            size TEXT NOT NULL,
            prompt TEXT NOT NULL,
            reference_path TEXT,
            reference_sha256 TEXT,
            request_fingerprint TEXT NOT NULL,
            estimated_cost_micros INTEGER CHECK (estimated_cost_micros >= 0),
            final_cost_micros INTEGER CHECK (final_cost_micros >= 0),
            status TEXT NOT NULL CHECK (status IN ('creating', 'unknown', 'queued', 'in_progress', 'completed',
                                                   'failed', 'create_failed', 'expired', 'deleted')),
            progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
            error_code TEXT,
            error_message TEXT,
            video_path TEXT,
            thumbnail_path TEXT,
            spritesheet_path TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            completed_at REAL,
            downloaded_at REAL,
            expires_at REAL,
            day TEXT NOT NULL,
            last_retrieve_at REAL,
            idempotency_key TEXT
        )
        """,
        """
        INSERT INTO jobs_v2 (local_id, kind, parent_video_id, video_id, backend, base_url, profile, model, seconds,
                             size, prompt, reference_path, reference_sha256, request_fingerprint,
                             estimated_cost_micros, final_cost_micros, status, progress, error_code, error_message,
                             video_path, thumbnail_path, spritesheet_path, created_at, updated_at, completed_at,
                             downloaded_at, expires_at, day, last_retrieve_at)
        SELECT local_id, kind, parent_video_id, video_id, backend, base_url, profile, model, seconds, size, prompt,
               reference_path, reference_sha256, request_fingerprint, estimated_cost_micros, final_cost_micros,
               status, progress, error_code, error_message, video_path, thumbnail_path, spritesheet_path,
               created_at, updated_at, completed_at, downloaded_at, expires_at, day, last_retrieve_at
        FROM jobs
        """,
        "DROP TABLE jobs",
        "ALTER TABLE jobs_v2 RENAME TO jobs",
        "CREATE INDEX jobs_by_day ON jobs (day, status)",
        "CREATE INDEX jobs_by_status ON jobs (status, created_at)",
        "CREATE INDEX jobs_by_created ON jobs (created_at)",
        "CREATE INDEX jobs_by_fingerprint ON jobs (request_fingerprint)",
        "CREATE INDEX jobs_by_idempotency_key ON jobs (idempotency_key)",
    ),
    (
        # v3: tenants (every row belongs to one; files from before belong to the local tenant), long-video plans
        # (kind 'long'; a segment names its plan in parent_id and its index in segment), the download claim that
        # lets one of several processes fetch a job's files, and `seq`, the insertion order as a column (the old
        # rowid, kept) so both databases order equal times the same way.
        """
        CREATE TABLE jobs_v3 (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            local_id TEXT NOT NULL UNIQUE,
            tenant TEXT NOT NULL DEFAULT 'local',
            kind TEXT NOT NULL CHECK (kind IN ('create', 'remix', 'extend', 'edit', 'long')),
            parent_video_id TEXT,
            video_id TEXT UNIQUE,
            backend TEXT NOT NULL,
            base_url TEXT,
            profile TEXT NOT NULL,
            model TEXT NOT NULL,
            seconds INTEGER NOT NULL CHECK (seconds > 0),
            size TEXT NOT NULL,
            prompt TEXT NOT NULL,
            reference_path TEXT,
            reference_sha256 TEXT,
            request_fingerprint TEXT NOT NULL,
            estimated_cost_micros INTEGER CHECK (estimated_cost_micros >= 0),
            final_cost_micros INTEGER CHECK (final_cost_micros >= 0),
            status TEXT NOT NULL CHECK (status IN ('creating', 'unknown', 'queued', 'in_progress', 'completed',
                                                   'failed', 'create_failed', 'expired', 'deleted')),
            progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
            error_code TEXT,
            error_message TEXT,
            video_path TEXT,
            thumbnail_path TEXT,
            spritesheet_path TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            completed_at REAL,
            downloaded_at REAL,
            expires_at REAL,
            day TEXT NOT NULL,
            last_retrieve_at REAL,
            idempotency_key TEXT,
            parent_id TEXT,
            segment INTEGER CHECK (segment >= 0),
            download_claimed_at REAL
        )
        """,
        """
        INSERT INTO jobs_v3 (seq, tenant, local_id, kind, parent_video_id, video_id, backend, base_url, profile,
                             model, seconds, size, prompt, reference_path, reference_sha256, request_fingerprint,
                             estimated_cost_micros, final_cost_micros, status, progress, error_code, error_message,
                             video_path, thumbnail_path, spritesheet_path, created_at, updated_at, completed_at,
                             downloaded_at, expires_at, day, last_retrieve_at, idempotency_key)
        SELECT rowid, 'local', local_id, kind, parent_video_id, video_id, backend, base_url, profile, model, seconds,
               size, prompt, reference_path, reference_sha256, request_fingerprint,
               estimated_cost_micros, final_cost_micros, status, progress, error_code, error_message,
               video_path, thumbnail_path, spritesheet_path, created_at, updated_at, completed_at,
               downloaded_at, expires_at, day, last_retrieve_at, idempotency_key
        FROM jobs
        """,
        "DROP TABLE jobs",
        "ALTER TABLE jobs_v3 RENAME TO jobs",
        "CREATE INDEX jobs_by_tenant_day ON jobs (tenant, day, status)",
        "CREATE INDEX jobs_by_tenant_created ON jobs (tenant, created_at)",
        "CREATE INDEX jobs_by_status ON jobs (status, created_at)",
        "CREATE INDEX jobs_by_fingerprint ON jobs (tenant, request_fingerprint)",
        "CREATE INDEX jobs_by_idempotency_key ON jobs (tenant, idempotency_key)",
        "CREATE INDEX jobs_by_parent ON jobs (tenant, parent_id, segment)",
    ),
)

SCHEMA_VERSION = len(SQLITE_MIGRATIONS)
POSTGRES_MIGRATIONS: dict[int, tuple[str, ...]] = {}
"""Upgrades of a PostgreSQL database from version N (key) to N+1; none yet (the baseline is v3)."""

METADATA = sa.MetaData()
_KINDS = "kind IN ('create', 'remix', 'extend', 'edit', 'long')"
_STATUSES = (
    "status IN ('creating', 'unknown', 'queued', 'in_progress', 'completed', 'failed', 'create_failed', "
    "'expired', 'deleted')"
)
JOBS = sa.Table(
    "jobs",
    METADATA,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.Identity(), primary_key=True),
    sa.Column("local_id", sa.Text, nullable=False, unique=True),
    sa.Column("tenant", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, sa.CheckConstraint(_KINDS), nullable=False),
    sa.Column("parent_video_id", sa.Text),
    sa.Column("video_id", sa.Text, unique=True),
    sa.Column("backend", sa.Text, nullable=False),
    sa.Column("base_url", sa.Text),
    sa.Column("profile", sa.Text, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("seconds", sa.Integer, sa.CheckConstraint("seconds > 0"), nullable=False),
    sa.Column("size", sa.Text, nullable=False),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("reference_path", sa.Text),
    sa.Column("reference_sha256", sa.Text),
    sa.Column("request_fingerprint", sa.Text, nullable=False),
    sa.Column("estimated_cost_micros", sa.BigInteger, sa.CheckConstraint("estimated_cost_micros >= 0")),
    sa.Column("final_cost_micros", sa.BigInteger, sa.CheckConstraint("final_cost_micros >= 0")),
    sa.Column("status", sa.Text, sa.CheckConstraint(_STATUSES), nullable=False),
    sa.Column("progress", sa.Integer, sa.CheckConstraint("progress BETWEEN 0 AND 100"), nullable=False),
    sa.Column("error_code", sa.Text),
    sa.Column("error_message", sa.Text),
    sa.Column("video_path", sa.Text),
    sa.Column("thumbnail_path", sa.Text),
    sa.Column("spritesheet_path", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("completed_at", sa.Float),
    sa.Column("downloaded_at", sa.Float),
    sa.Column("expires_at", sa.Float),
    sa.Column("day", sa.Text, nullable=False),
    sa.Column("last_retrieve_at", sa.Float),
    sa.Column("idempotency_key", sa.Text),
    sa.Column("parent_id", sa.Text),
    sa.Column("segment", sa.Integer, sa.CheckConstraint("segment >= 0")),
    sa.Column("download_claimed_at", sa.Float),
    sa.Index("jobs_by_tenant_day", "tenant", "day", "status"),
    sa.Index("jobs_by_tenant_created", "tenant", "created_at"),
    sa.Index("jobs_by_status", "status", "created_at"),
    sa.Index("jobs_by_fingerprint", "tenant", "request_fingerprint"),
    sa.Index("jobs_by_idempotency_key", "tenant", "idempotency_key"),
    sa.Index("jobs_by_parent", "tenant", "parent_id", "segment"),
)
SCHEMA_TABLE = sa.Table("sora_mcp_schema", METADATA, sa.Column("version", sa.Integer, nullable=False))
