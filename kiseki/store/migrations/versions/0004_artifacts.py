"""Artifacts: versions, aliases, manifests and lineage (issue 6).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSONColumn = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create this revision's tables."""
    op.create_table(
        "artifact_collections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "project_id",
            sa.Integer,
            sa.ForeignKey(
                "projects.id", ondelete="CASCADE", name="fk_artifact_collections_project"
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("project_id", "name", name="uq_artifact_collections_name"),
    )
    op.create_table(
        "artifact_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "collection_id",
            sa.Integer,
            sa.ForeignKey(
                "artifact_collections.id",
                ondelete="CASCADE",
                name="fk_artifact_versions_collection",
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
    )
    op.create_index("ix_artifact_versions_run", "artifact_versions", ["run_pk"])
    op.create_table(
        "artifact_files",
        sa.Column(
            "version_id",
            sa.Integer,
            sa.ForeignKey(
                "artifact_versions.id", ondelete="CASCADE", name="fk_artifact_files_version"
            ),
            primary_key=True,
        ),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("digest", sa.String(256), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("ref", sa.Text, nullable=True),
    )
    op.create_index("ix_artifact_files_digest", "artifact_files", ["digest"])
    op.create_table(
        "artifact_aliases",
        sa.Column(
            "collection_id",
            sa.Integer,
            sa.ForeignKey(
                "artifact_collections.id",
                ondelete="CASCADE",
                name="fk_artifact_aliases_collection",
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
    op.create_table(
        "artifact_usage",
        sa.Column(
            "version_id",
            sa.Integer,
            sa.ForeignKey(
                "artifact_versions.id", ondelete="CASCADE", name="fk_artifact_usage_version"
            ),
            primary_key=True,
        ),
        sa.Column(
            "run_pk",
            sa.Integer,
            sa.ForeignKey("runs.pk", ondelete="CASCADE", name="fk_artifact_usage_run"),
            primary_key=True,
        ),
        sa.Column("used_at", sa.Float, nullable=False),
    )
    op.create_index("ix_artifact_usage_run", "artifact_usage", ["run_pk"])


def downgrade() -> None:
    """Drop this revision's tables."""
    op.drop_index("ix_artifact_usage_run", table_name="artifact_usage")
    op.drop_table("artifact_usage")
    op.drop_table("artifact_aliases")
    op.drop_index("ix_artifact_files_digest", table_name="artifact_files")
    op.drop_table("artifact_files")
    op.drop_index("ix_artifact_versions_run", table_name="artifact_versions")
    op.drop_table("artifact_versions")
    op.drop_table("artifact_collections")
