"""Run files, console lines, system metrics and media references (issue 9).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _run_fk(table: str) -> sa.Column:
    return sa.Column(
        "run_pk",
        sa.Integer,
        sa.ForeignKey("runs.pk", ondelete="CASCADE", name=f"fk_{table}_run"),
        primary_key=True,
    )


def upgrade() -> None:
    """Create this revision's tables."""
    op.create_table(
        "run_blobs",
        _run_fk("run_blobs"),
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
    )
    op.create_index("ix_run_blobs_digest", "run_blobs", ["digest"])
    op.create_table(
        "run_files",
        _run_fk("run_files"),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime", sa.Float, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("saved_at", sa.Float, nullable=False),
        sa.Column("versions", sa.Integer, nullable=False),
    )
    op.create_table(
        "run_console",
        _run_fk("run_console"),
        sa.Column("line_no", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("timestamp", sa.Float, nullable=False),
        sa.Column("stream", sa.String(8), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_table(
        "run_system_samples",
        _run_fk("run_system_samples"),
        sa.Column("sample_no", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("timestamp", sa.Float, nullable=False),
        sa.Column("runtime", sa.Float, nullable=False),
        sa.Column("vals", sa.Text, nullable=False),
    )


def downgrade() -> None:
    """Drop this revision's tables."""
    op.drop_table("run_system_samples")
    op.drop_table("run_console")
    op.drop_table("run_files")
    op.drop_index("ix_run_blobs_digest", table_name="run_blobs")
    op.drop_table("run_blobs")
