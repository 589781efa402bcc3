"""Run files, console lines and media references (issue 9).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create this revision's tables."""
    op.create_table(
        "run_blobs",
        sa.Column(
            "run_pk",
            sa.Integer,
            sa.ForeignKey("runs.pk", ondelete="CASCADE", name="fk_run_blobs_run"),
            primary_key=True,
        ),
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
    )
    op.create_index("ix_run_blobs_digest", "run_blobs", ["digest"])


def downgrade() -> None:
    """Drop this revision's tables."""
    op.drop_index("ix_run_blobs_digest", table_name="run_blobs")
    op.drop_table("run_blobs")
