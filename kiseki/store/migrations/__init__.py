"""Alembic migrations of the store schema; :data:`SCHEMA_HEAD` names the newest revision."""

SCHEMA_HEAD = "0006"
"""The revision the code expects; a test checks it equals Alembic's head."""
