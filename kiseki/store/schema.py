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
* ``sweeps``, ``sweep_trials``: hyperparameter sweeps and their trials (see
  :mod:`kiseki.sweeps.store`); a trial's run is the run with its ``run_id`` in the sweep's
  project.

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
    "sweep_trials",
    "sweeps",
    "team_members",
    "teams",
    "users",
    "web_sessions",
    "workspace_states",
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

workspace_states = sa.Table(
    "workspace_states",
    metadata,
    sa.Column("username", sa.String(128), primary_key=True),
    sa.Column(
        "project_id",
        sa.Integer,
        sa.ForeignKey("projects.id", ondelete="CASCADE", name="fk_workspace_states_project"),
        primary_key=True,
    ),
    sa.Column("state", JSONColumn, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
"""A user's saved web-app workspace of a project (hidden runs, colours, filters, ...)."""


# -- artifacts (issue 6; migration 0004) ------------------------------------------------------

artifact_collections = sa.Table(
    "artifact_collections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "project_id",
        sa.Integer,
        sa.ForeignKey("projects.id", ondelete="CASCADE", name="fk_artifact_collections_project"),
        nullable=False,
    ),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("type", sa.String(128), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("project_id", "name", name="uq_artifact_collections_name"),
)
"""An artifact: a named, typed sequence of versions in a project."""

artifact_versions = sa.Table(
    "artifact_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "collection_id",
        sa.Integer,
        sa.ForeignKey(
            "artifact_collections.id", ondelete="CASCADE", name="fk_artifact_versions_collection"
        ),
        nullable=False,
    ),
    sa.Column("version_index", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("metadata", JSONColumn, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("file_count", sa.Integer, nullable=False),
    sa.Column(
        "run_pk",
        sa.Integer,
        sa.ForeignKey("runs.pk", ondelete="SET NULL", name="fk_artifact_versions_run"),
        nullable=True,
    ),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("collection_id", "version_index", name="uq_artifact_versions_index"),
    sa.UniqueConstraint("collection_id", "digest", name="uq_artifact_versions_digest"),
    sa.Index("ix_artifact_versions_run", "run_pk"),
)
"""One version (``v<version_index>``) of an artifact: its content ``digest`` (over the
manifest), ``metadata`` and the run that logged it (``run_pk``)."""

artifact_files = sa.Table(
    "artifact_files",
    metadata,
    sa.Column(
        "version_id",
        sa.Integer,
        sa.ForeignKey("artifact_versions.id", ondelete="CASCADE", name="fk_artifact_files_version"),
        primary_key=True,
    ),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("digest", sa.String(256), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("ref", sa.Text, nullable=True),
    sa.Index("ix_artifact_files_digest", "digest"),
)
"""The manifest of a version: each entry's path, blob digest and size; a reference entry
(``ref`` holds its URI) has the remote object's checksum or ETag as ``digest``."""

artifact_aliases = sa.Table(
    "artifact_aliases",
    metadata,
    sa.Column(
        "collection_id",
        sa.Integer,
        sa.ForeignKey(
            "artifact_collections.id", ondelete="CASCADE", name="fk_artifact_aliases_collection"
        ),
        primary_key=True,
    ),
    sa.Column("alias", sa.String(128), primary_key=True),
    sa.Column(
        "version_id",
        sa.Integer,
        sa.ForeignKey(
            "artifact_versions.id", ondelete="CASCADE", name="fk_artifact_aliases_version"
        ),
        nullable=False,
    ),
)
"""Where each alias of an artifact points (``latest`` always at the newest version)."""

artifact_usage = sa.Table(
    "artifact_usage",
    metadata,
    sa.Column(
        "version_id",
        sa.Integer,
        sa.ForeignKey("artifact_versions.id", ondelete="CASCADE", name="fk_artifact_usage_version"),
        primary_key=True,
    ),
    sa.Column(
        "run_pk",
        sa.Integer,
        sa.ForeignKey("runs.pk", ondelete="CASCADE", name="fk_artifact_usage_run"),
        primary_key=True,
    ),
    sa.Column("used_at", sa.Float, nullable=False),
    sa.Index("ix_artifact_usage_run", "run_pk"),
)
"""Which runs used which artifact versions (lineage: a version's consumers)."""

# -- sweeps (issue 8; migration 0005) ---------------------------------------------------------

sweeps = sa.Table(
    "sweeps",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "project_id",
        sa.Integer,
        sa.ForeignKey("projects.id", ondelete="CASCADE", name="fk_sweeps_project"),
        nullable=False,
    ),
    sa.Column("sweep_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(256), nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("config", JSONColumn, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("author", sa.String(128), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("project_id", "sweep_id", name="uq_sweeps_project_sweep_id"),
)
"""A sweep: its validated W&B-format ``config`` and its ``state`` (``running``, ``paused``,
``finished``, ``cancelled``)."""

sweep_trials = sa.Table(
    "sweep_trials",
    metadata,
    sa.Column(
        "sweep_pk",
        sa.Integer,
        sa.ForeignKey("sweeps.pk", ondelete="CASCADE", name="fk_sweep_trials_sweep"),
        primary_key=True,
    ),
    sa.Column("trial_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("params", JSONColumn, nullable=False),
    sa.Column("suggestion", JSONColumn, nullable=False),
    sa.Column("grid_index", sa.Integer, nullable=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("exit_code", sa.Integer, nullable=True),
    sa.Column("metric_value", sa.Float, nullable=True),
    sa.Column("stop_reason", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("agent", sa.String(128), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("sweep_pk", "run_id", name="uq_sweep_trials_run"),
    sa.UniqueConstraint("sweep_pk", "grid_index", name="uq_sweep_trials_grid"),
    sa.Index("ix_sweep_trials_run_id", "run_id"),
)
"""One trial of a sweep: the run (``run_id``, in the sweep's project) it became, the chosen
``params``, the search method's own ``suggestion`` (Optuna's internal values for ``bayes``),
the ``grid_index`` of a grid point (unique: each point is handed out once), the state the agent
reported, the metric it reached and why it was stopped early (``stop_reason``)."""

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

run_files = sa.Table(
    "run_files",
    metadata,
    sa.Column(
        "run_pk",
        sa.Integer,
        sa.ForeignKey("runs.pk", ondelete="CASCADE", name="fk_run_files_run"),
        primary_key=True,
    ),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mtime", sa.Float, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("saved_at", sa.Float, nullable=False),
    sa.Column("versions", sa.Integer, nullable=False),
)
"""The files a run saved (``run.save``, ``requirements.txt``, its code): the latest version
of each ``path`` (``versions`` counts how often it was saved)."""

run_console = sa.Table(
    "run_console",
    metadata,
    sa.Column(
        "run_pk",
        sa.Integer,
        sa.ForeignKey("runs.pk", ondelete="CASCADE", name="fk_run_console_run"),
        primary_key=True,
    ),
    sa.Column("line_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("timestamp", sa.Float, nullable=False),
    sa.Column("stream", sa.String(8), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
)
"""What a run printed: one row per line, numbered from 0 in the order written."""

run_system_samples = sa.Table(
    "run_system_samples",
    metadata,
    sa.Column(
        "run_pk",
        sa.Integer,
        sa.ForeignKey("runs.pk", ondelete="CASCADE", name="fk_run_system_samples_run"),
        primary_key=True,
    ),
    sa.Column("sample_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("timestamp", sa.Float, nullable=False),
    sa.Column("runtime", sa.Float, nullable=False),
    sa.Column("vals", sa.Text, nullable=False),
)
"""The run's system metrics (``history(stream="system")``): one row per sample, numbered from 0,
``vals`` a JSON object of ``system/...`` keys. Kept apart from the history tables so samples
never touch the run's ``_step``."""
