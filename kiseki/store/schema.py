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

Every change goes through an Alembic migration in ``kiseki/store/migrations``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from kiseki.store.chunks import CHUNK_SIZE

__all__ = ["CHUNK_SIZE", "history_chunks", "history_values", "metadata", "projects", "runs"]

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
    sa.UniqueConstraint("project_id", "run_id", name="uq_runs_project_run_id"),
    sa.Index("ix_runs_project_created", "project_id", "created_at"),
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
