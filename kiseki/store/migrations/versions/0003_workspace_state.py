"""Saved web-app workspace state per user and project (issue 4).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``workspace_states``: one saved workspace per user and project."""
    op.create_table(
        "workspace_states",
        sa.Column("username", sa.String(128), primary_key=True),
        sa.Column(
            "project_id",
            sa.Integer,
            sa.ForeignKey("projects.id", ondelete="CASCADE", name="fk_workspace_states_project"),
            primary_key=True,
        ),
        sa.Column(
            "state", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    """Drop ``workspace_states``."""
    op.drop_table("workspace_states")
