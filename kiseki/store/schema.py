"""The store's tables, defined once for SQLite and PostgreSQL (SQLAlchemy Core).

Users who query the store directly can rely on this layout (documented in docs/storage.md):

* ``projects``: one row per (entity, project name).
* ``runs``: one row per run; ``config``, ``summary``, ``metadata`` and ``metric_definitions``
  are JSON; times are epoch seconds; ``state`` is the stored state (a ``running`` run whose
  ``heartbeat_at`` is older than the heartbeat timeout reads as ``crashed``).
* ``history_chunks``: numeric history, one row per (run, key, chunk of up to
  :data:`CHUNK_SIZE` points): packed little-endian int64 steps and float64 (``kind='f'``) or
  int64 (``kind='i'``) values, with the chunk's first/last step, count, min and max.
* ``history_values``: non-numeric history values (strings, booleans, None, lists) as JSON.
* ``users``, ``api_keys``, ``teams``, ``team_members``, ``web_sessions``: the accounts of a
  ``kiseki server`` (see :mod:`kiseki.store.accounts`); keys and session tokens are stored as
  SHA-256 hashes, passwords as scrypt hashes.

Every change goes through an Alembic migration in ``kiseki/store/migrations``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from kiseki.store.chunks import CHUNK_SIZE

__all__ = [
    "CHUNK_SIZE",
    "PRIVACIES",
    "api_keys",
    "history_chunks",
    "history_values",
    "metadata",
    "projects",
    "runs",
    "team_members",
    "teams",
    "users",
    "web_sessions",
]

PRIVACIES = ("private", "public")
"""A run's privacy (and a project's default for its new runs)."""

metadata = sa.MetaData()

JSONColumn = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("entity", sa.String(128), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("visibility", sa.String(16), nullable=False, server_default="private"),
    sa.UniqueConstraint("entity", "name", name="uq_projects_entity_name"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "project_id",
        sa.Integer,
        sa.ForeignKey("projects.id", ondelete="CASCADE", name="fk_runs_project"),
        nullable=False,
    ),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("notes", sa.Text, nullable=True),
    sa.Column("tags", JSONColumn, nullable=False),
    sa.Column("group_name", sa.String(256), nullable=True),
    sa.Column("job_type", sa.String(128), nullable=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("exit_code", sa.Integer, nullable=True),
    sa.Column("author", sa.String(128), nullable=True),
    sa.Column("config", JSONColumn, nullable=False),
    sa.Column("summary", JSONColumn, nullable=False),
    sa.Column("metadata", JSONColumn, nullable=False),
    sa.Column("metric_definitions", JSONColumn, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("heartbeat_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Column("runtime", sa.Float, nullable=False),
    sa.Column("last_step", sa.BigInteger, nullable=False),
    sa.Column("history_rows", sa.BigInteger, nullable=False),
    sa.Column("applied_seq", sa.BigInteger, nullable=False),
    sa.Column("privacy", sa.String(16), nullable=False, server_default="private"),
    sa.Column("stop_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("project_id", "run_id", name="uq_runs_project_run_id"),
    sa.Index("ix_runs_project_created", "project_id", "created_at"),
    sa.Index("ix_runs_state_heartbeat", "state", "heartbeat_at"),
)

history_chunks = sa.Table(
    "history_chunks",
    metadata,
    sa.Column(
        "run_pk",
        sa.Integer,
        sa.ForeignKey("runs.pk", ondelete="CASCADE", name="fk_chunks_run"),
        primary_key=True,
    ),
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("chunk_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("first_step", sa.BigInteger, nullable=False),
    sa.Column("last_step", sa.BigInteger, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("vmin", sa.Float, nullable=True),
    sa.Column("vmax", sa.Float, nullable=True),
    sa.Column("kind", sa.String(1), nullable=False),
    sa.Column("steps", sa.LargeBinary, nullable=False),
    sa.Column("vals", sa.LargeBinary, nullable=False),
)

history_values = sa.Table(
    "history_values",
    metadata,
    sa.Column(
        "run_pk",
        sa.Integer,
        sa.ForeignKey("runs.pk", ondelete="CASCADE", name="fk_values_run"),
        primary_key=True,
    ),
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("step", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("value", sa.Text, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(128), nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("password_hash", sa.String(256), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("username", name="uq_users_username"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_api_keys_user"),
        nullable=False,
    ),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("key_hash", name="uq_api_keys_hash"),
    sa.Index("ix_api_keys_user", "user_id"),
)

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("name", name="uq_teams_name"),
)

team_members = sa.Table(
    "team_members",
    metadata,
    sa.Column(
        "team_id",
        sa.Integer,
        sa.ForeignKey("teams.id", ondelete="CASCADE", name="fk_team_members_team"),
        primary_key=True,
    ),
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_team_members_user"),
        primary_key=True,
    ),
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_web_sessions_user"),
        nullable=False,
    ),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

# -- workspace state (issue 4; migration 0003) ------------------------------------------------

# -- artifacts (issue 6; migration 0004) ------------------------------------------------------

# -- sweeps (issue 8; migration 0005) ---------------------------------------------------------

# -- run files, console and media (issue 9; migration 0006) -----------------------------------

run_blobs = sa.Table(
    "run_blobs",
    metadata,
    sa.Column(
        "run_pk",
        sa.Integer,
        sa.ForeignKey("runs.pk", ondelete="CASCADE", name="fk_run_blobs_run"),
        primary_key=True,
    ),
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Index("ix_run_blobs_digest", "digest"),
)
"""Blobs a run refers to outside artifacts (``kind``: ``file``, ``media``, ``code``); blob
garbage collection keeps every digest listed here or in an artifact manifest."""
