"""Initial schema: projects, runs, history chunks and non-numeric history values.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSONColumn = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create the first version of every table."""
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entity", sa.String(128), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("entity", "name", name="uq_projects_entity_name"),
    )
    op.create_table(
        "runs",
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
    )
    op.create_index("ix_runs_project_created", "runs", ["project_id", "created_at"])
    op.create_table(
        "history_chunks",
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
    op.create_table(
        "history_values",
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


def downgrade() -> None:
    """Drop every table."""
    op.drop_table("history_values")
    op.drop_table("history_chunks")
    op.drop_index("ix_runs_project_created", table_name="runs")
    op.drop_table("runs")
    op.drop_table("projects")
