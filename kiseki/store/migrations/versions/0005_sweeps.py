"""Sweeps: sweep definitions, their trials and control state (issue 8).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSONColumn = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create the ``sweeps`` and ``sweep_trials`` tables."""
    op.create_table(
        "sweeps",
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
    op.create_table(
        "sweep_trials",
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
    )
    op.create_index("ix_sweep_trials_run_id", "sweep_trials", ["run_id"])


def downgrade() -> None:
    """Drop the ``sweeps`` and ``sweep_trials`` tables."""
    op.drop_index("ix_sweep_trials_run_id", table_name="sweep_trials")
    op.drop_table("sweep_trials")
    op.drop_table("sweeps")
