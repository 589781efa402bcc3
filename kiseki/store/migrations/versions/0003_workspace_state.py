"""Saved web-app workspace state per user and project (issue 4).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create this revision's tables."""


def downgrade() -> None:
    """Drop this revision's tables."""
