"""Accounts and privacy: users, API keys, teams, web sessions; run privacy and stop requests.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the account tables and the privacy/stop columns."""
    with op.batch_alter_table("projects") as batch:
        batch.add_column(
            sa.Column("visibility", sa.String(16), nullable=False, server_default="private")
        )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(
            sa.Column("privacy", sa.String(16), nullable=False, server_default="private")
        )
        batch.add_column(
            sa.Column("stop_requested", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_index("ix_runs_state_heartbeat", "runs", ["state", "heartbeat_at"])
    if op.get_bind().dialect.name == "postgresql":
        _fast_chunk_storage()
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("password_hash", sa.String(256), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "api_keys",
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
    )
    op.create_index("ix_api_keys_user", "api_keys", ["user_id"])
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("name", name="uq_teams_name"),
    )
    op.create_table(
        "team_members",
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
    op.create_table(
        "web_sessions",
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


def _fast_chunk_storage() -> None:
    """Packed chunks barely compress, and PostgreSQL's default pglz compression made writing
    them ten times slower than the rest of a batch: use lz4 where the server has it, else
    store them uncompressed."""
    has_lz4 = op.get_bind().scalar(
        sa.text(
            "SELECT count(*) FROM pg_settings WHERE name = 'default_toast_compression' "
            "AND 'lz4' = ANY(enumvals)"
        )
    )
    for column in ("steps", "vals"):
        if has_lz4:
            op.execute(f"ALTER TABLE history_chunks ALTER COLUMN {column} SET COMPRESSION lz4")
        else:
            op.execute(f"ALTER TABLE history_chunks ALTER COLUMN {column} SET STORAGE EXTERNAL")


def downgrade() -> None:
    """Drop the account tables and the privacy/stop columns."""
    op.drop_table("web_sessions")
    op.drop_table("team_members")
    op.drop_table("teams")
    op.drop_index("ix_api_keys_user", table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("users")
    op.drop_index("ix_runs_state_heartbeat", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("stop_requested")
        batch.drop_column("privacy")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("visibility")
